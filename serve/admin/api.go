package admin

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/respond"
)

// The REST API on the dashboard port. /api/serve/applications/ and
// /api/ray/version speak Ray's dashboard API exactly, so Ray's `serve` CLI
// and other Ray tooling work against a gateway unchanged; Gantry's own
// endpoints live under /api/gantry/. See docs/api.md.

// MaxConfigBytes bounds the body of PUT /api/serve/applications/; a larger
// body is answered 413.
const MaxConfigBytes = 4 << 20

// identity names this gateway in Ray's terms: one node running the
// controller, one proxy (the ingress) and, on the local backend, the
// replicas.
type identity struct {
	nodeID      string // 56 hex digits, like a Ray node id
	hostname    string
	sessionName string // session_<date>_<time>_<µs>_<pid>, like Ray's
	commit      string
}

func newIdentity(now time.Time) identity {
	var b [28]byte
	rand.Read(b[:])
	host, _ := os.Hostname()
	id := identity{
		nodeID:   hex.EncodeToString(b[:]),
		hostname: host,
		sessionName: fmt.Sprintf("session_%s_%06d_%d",
			now.Format("2006-01-02_15-04-05"), now.Nanosecond()/1000, os.Getpid()),
		commit: "gantry",
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" && s.Value != "" {
				id.commit = "gantry-" + s.Value
			}
		}
	}
	return id
}

func (s *Server) apiRoutes(r chi.Router) {
	r.Get("/api/ray/version", s.getRayVersion)
	for _, p := range []string{"/api/serve/applications/", "/api/serve/applications"} {
		r.Get(p, s.reads.heavy(s.getRayApplications))
		r.Put(p, s.putApplications)
		r.Delete(p, s.deleteApplications)
	}
	r.Get("/api/gantry/applications", s.reads.heavy(s.getGantryApplications))
	r.Get("/api/gantry/handle", s.getHandle)
	s.dashboardRoutes(r)
}

// getRayVersion answers as Ray's dashboard does (serve_head.py get_version).
func (s *Server) getRayVersion(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, RayVersion{
		Version:     rayAPIVersion,
		RayVersion:  RayCompatVersion,
		RayCommit:   s.id.commit,
		SessionName: s.id.sessionName,
	})
}

// putApplications applies the whole declarative config in the body (YAML
// or JSON): applications it does not list are deleted. An invalid config is
// answered 400 with every problem, one per line, and changes nothing.
func (s *Server) putApplications(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxConfigBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			textError(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("the config is larger than %d bytes", tooBig.Limit))
			return
		}
		textError(w, http.StatusBadRequest, "reading the config: "+err.Error())
		return
	}
	cfg, err := config.Parse(body)
	if err != nil {
		s.log.Info("REST API: config refused", "remote", r.RemoteAddr, "problems", strings.Count(err.Error(), "\n")+1)
		textError(w, http.StatusBadRequest, err.Error())
		return
	}
	if code, err := s.apply(r.Context(), cfg); err != nil {
		textError(w, code, "the config was not applied: "+err.Error())
		return
	}
	names := make([]string, len(cfg.Applications))
	for i := range cfg.Applications {
		names[i] = cfg.Applications[i].EffectiveName()
	}
	s.log.Info("REST API: config applied", "remote", r.RemoteAddr, "applications", names)
	w.WriteHeader(http.StatusOK)
}

// deleteApplications deletes every application (Ray: serve.shutdown()):
// the applied config is kept without its applications, replicas are
// drained and stopped in the background.
func (s *Server) deleteApplications(w http.ResponseWriter, r *http.Request) {
	cfg := &config.Config{}
	if cur := s.controller.Snapshot().Config; cur != nil {
		c := *cur
		c.Applications = nil
		cfg = &c
	}
	if code, err := s.apply(r.Context(), cfg); err != nil {
		textError(w, code, "the applications were not deleted: "+err.Error())
		return
	}
	s.log.Info("REST API: every application deleted", "remote", r.RemoteAddr)
	w.WriteHeader(http.StatusOK)
}

// apply hands cfg to the controller, which saves it, reconciles and
// publishes the new status before it returns: a GET right after the PUT
// sees the new config being deployed.
func (s *Server) apply(ctx context.Context, cfg *config.Config) (int, error) {
	if err := s.controller.Apply(ctx, cfg); err != nil {
		if ctx.Err() != nil {
			return http.StatusServiceUnavailable, err
		}
		return http.StatusInternalServerError, err
	}
	return http.StatusOK, nil
}

// getRayApplications answers Ray's ServeInstanceDetails. Like Ray, it
// takes ?api_type=declarative|imperative; every Gantry application is
// declarative.
func (s *Server) getRayApplications(w http.ResponseWriter, r *http.Request) {
	apiType := strings.ToLower(r.URL.Query().Get("api_type"))
	if apiType != "" && apiType != "declarative" && apiType != "imperative" {
		textError(w, http.StatusBadRequest, fmt.Sprintf(
			"Invalid 'api_type' value: '%s'. Must be one of: imperative, declarative", r.URL.Query().Get("api_type")))
		return
	}
	v := s.rayInstance(s.controller.Snapshot())
	if apiType == "imperative" {
		v.Applications = map[string]RayApplication{}
	}
	writeJSON(w, http.StatusOK, v)
}

// getGantryApplications answers Gantry's richer view.
func (s *Server) getGantryApplications(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, s.gantryInstance(s.controller.Snapshot()))
}

// currentConfig is the applied config, else the one the server started with.
func (s *Server) currentConfig(snap *deploy.Snapshot) *config.Config {
	if snap.Config != nil {
		return snap.Config
	}
	return s.startConfig
}

// rayInstance builds Ray's ServeInstanceDetails from a snapshot.
func (s *Server) rayInstance(snap *deploy.Snapshot) RayServeInstanceDetails {
	cur := s.currentConfig(snap)
	v := RayServeInstanceDetails{
		ControllerInfo: s.actor("SERVE_CONTROLLER_ACTOR"),
		ProxyLocation:  cur.ProxyLocation,
		HTTPOptions:    s.rayHTTPOptions(cur),
		GRPCOptions:    RayGRPCOptions{Port: portOf(s.startConfig.GRPCAddr()), GRPCServicerFunctions: []string{}},
		Proxies:        map[string]RayProxyDetails{},
		Applications:   map[string]RayApplication{},
	}
	if v.ProxyLocation == "" {
		v.ProxyLocation = "EveryNode" // Ray's default; one gateway is one node
	}
	status := "HEALTHY"
	if s.ingress.Draining() {
		status = "DRAINING"
	}
	v.Proxies[s.id.nodeID] = RayProxyDetails{RayActorDetails: s.actor("SERVE_PROXY_ACTOR-" + s.id.nodeID), Status: status}
	for _, a := range snap.Applications {
		v.Applications[a.Name] = s.rayApplication(a)
	}
	return v
}

// actor describes something running on this gateway's node.
func (s *Server) actor(name string) RayActorDetails {
	return RayActorDetails{
		NodeID:         strPtr(s.id.nodeID),
		NodeIP:         strPtr(s.nodeIP()),
		NodeInstanceID: strPtr(s.id.hostname),
		ActorName:      strPtr(name),
	}
}

// nodeIP is the ingress's IP when it listens on one, else 127.0.0.1.
func (s *Server) nodeIP() string {
	host, _, err := net.SplitHostPort(s.ingress.HTTPAddr())
	if ip := net.ParseIP(host); err == nil && ip != nil && !ip.IsUnspecified() {
		return ip.String()
	}
	return "127.0.0.1"
}

func (s *Server) rayHTTPOptions(cur *config.Config) RayHTTPOptions {
	host, _, err := net.SplitHostPort(s.opts.HTTPAddr)
	if err != nil {
		host = config.DefaultHTTPHost
	}
	return RayHTTPOptions{
		Host:              host,
		Port:              portOf(s.ingress.HTTPAddr()),
		RootPath:          cur.HTTPOptions.RootPath,
		RequestTimeoutS:   cur.HTTPOptions.RequestTimeoutS,
		KeepAliveTimeoutS: int(math.Round(s.startConfig.KeepAliveTimeout().Seconds())),
	}
}

func (s *Server) rayApplication(a deploy.AppStatus) RayApplication {
	v := RayApplication{
		Name:              a.Name,
		Status:            string(a.Status),
		Message:           a.Message,
		LastDeployedTimeS: unixSeconds(a.LastDeployedTime),
		Source:            "declarative",
		Deployments:       map[string]RayDeployment{},
		DeployedAppConfig: rayAppConfig(a.Config, s.baseDir()),
	}
	if a.RoutePrefix != "" {
		v.RoutePrefix = strPtr(a.RoutePrefix)
	}
	for _, d := range a.Deployments {
		v.Deployments[d.Deployment] = s.rayDeployment(d)
	}
	return v
}

func (s *Server) rayDeployment(d deploy.DeploymentStatus) RayDeployment {
	v := RayDeployment{
		Name:              d.Deployment,
		Status:            string(d.Status),
		StatusTrigger:     string(d.Trigger),
		Message:           d.Message,
		DeploymentConfig:  rayDeploymentConfig(d),
		TargetNumReplicas: max(d.Target, 0),
		RequiredResources: requiredResources(d.Config.RayActorOptions),
		Replicas:          []RayReplica{},
	}
	if v.StatusTrigger == "" {
		v.StatusTrigger = string(deploy.TriggerUnspecified)
	}
	for _, r := range d.Replicas {
		v.Replicas = append(v.Replicas, s.rayReplica(r))
	}
	return v
}

func rayDeploymentConfig(d deploy.DeploymentStatus) RayDeploymentConfig {
	sp := d.Spec
	v := RayDeploymentConfig{
		Name:                      d.Deployment,
		MaxOngoingRequests:        sp.MaxOngoingRequests,
		MaxQueuedRequests:         sp.MaxQueuedRequests,
		GracefulShutdownWaitLoopS: sp.GracefulShutdownWaitLoop.Seconds(),
		GracefulShutdownTimeoutS:  sp.GracefulShutdownTimeout.Seconds(),
		HealthCheckPeriodS:        sp.HealthCheckPeriod.Seconds(),
		HealthCheckTimeoutS:       sp.HealthCheckTimeout.Seconds(),
		RayActorOptions:           RayActorOptionsOut{NumCPUs: 1},
	}
	switch {
	case sp.Autoscaling != nil:
		v.AutoscalingConfig = sp.Autoscaling
	case sp.NumReplicas >= 1:
		n := sp.NumReplicas
		v.NumReplicas = &n
	}
	if u := strings.TrimSpace(string(sp.UserConfig)); strings.HasPrefix(u, "{") {
		v.UserConfig = json.RawMessage(u)
	}
	if o := d.Config.RayActorOptions; o != nil {
		if o.NumCPUs != nil {
			v.RayActorOptions.NumCPUs = *o.NumCPUs
		}
		v.RayActorOptions.NumGPUs = o.NumGPUs
		v.RayActorOptions.Memory = o.Memory
		if len(o.Resources) > 0 {
			v.RayActorOptions.Resources = o.Resources
		}
		v.RayActorOptions.AcceleratorType = o.AcceleratorType
	}
	return v
}

// requiredResources is what one replica asks for, in Ray's resource names:
// CPU (1 unless set), GPU and memory when set, and the custom resources.
func requiredResources(o *config.RayActorOptions) map[string]float64 {
	res := map[string]float64{"CPU": 1}
	if o == nil {
		return res
	}
	if o.NumCPUs != nil {
		res["CPU"] = *o.NumCPUs
	}
	if o.NumGPUs != nil && *o.NumGPUs > 0 {
		res["GPU"] = *o.NumGPUs
	}
	if o.Memory != nil && *o.Memory > 0 {
		res["memory"] = *o.Memory
	}
	for k, n := range o.Resources {
		res[k] = n
	}
	return res
}

func (s *Server) rayReplica(r deploy.ReplicaStatus) RayReplica {
	v := RayReplica{
		RayActorDetails: s.actor("SERVE_REPLICA::" + r.ID),
		ReplicaID:       r.ID,
		State:           string(r.State.RayState()),
		StartTimeS:      unixSeconds(r.StartedAt),
	}
	if host, _, err := net.SplitHostPort(r.Address); err == nil && host != "" {
		v.NodeIP = strPtr(host)
	}
	if r.PID > 0 {
		pid := r.PID
		v.PID = &pid
	}
	if r.LogPath != "" {
		v.LogFilePath = strPtr(r.LogPath)
	}
	return v
}

func writeJSON(w http.ResponseWriter, code int, v any) { respond.JSON(w, code, v) }

func textError(w http.ResponseWriter, code int, msg string) { respond.Text(w, code, msg) }

func strPtr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// unixSeconds is t as Unix seconds with a fraction; 0 for the zero time.
func unixSeconds(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMicro()) / 1e6
}

// portOf returns the port of a host:port address, 0 if there is none.
func portOf(addr string) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(p)
	return n
}

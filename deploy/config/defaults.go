package config

import (
	"encoding/json"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Defaults, the same as Ray Serve's except the hosts (see DESIGN.md).
const (
	DefaultHTTPHost            = "127.0.0.1"
	DefaultHTTPPort            = 8000
	DefaultGRPCPort            = 9000
	DefaultDashboardHost       = "127.0.0.1"
	DefaultDashboardPort       = 8265
	DefaultKeepAliveTimeout    = 90 * time.Second
	DefaultMaxRequestBodyBytes = 100 << 20
	DefaultMaxHeaderBytes      = 1 << 20

	// Bounds on what one client can hold (docs/limits.md).
	DefaultReadHeaderTimeout        = 10 * time.Second
	DefaultMinBodyRateBytesPerS     = 1024
	DefaultMinResponseRateBytesPerS = 1024
	DefaultSlowClientGrace          = 10 * time.Second
	DefaultMaxInferBodyBytes        = 16 << 20
	DefaultMaxConnections           = 10000
	DefaultMaxReceiveMessageBytes   = 16 << 20
	DefaultMaxConcurrentStreams     = 100

	DefaultApplicationName = "default"
	DefaultRoutePrefix     = "/"

	DefaultMaxOngoingRequests       = 5
	DefaultMaxQueuedRequests        = -1
	DefaultGracefulShutdownWaitLoop = 2 * time.Second
	DefaultGracefulShutdownTimeout  = 20 * time.Second
	DefaultHealthCheckPeriod        = 10 * time.Second
	DefaultHealthCheckTimeout       = 30 * time.Second
	DefaultProtocol                 = "http"
	DefaultHealthPath               = "/-/healthz"
)

// DeploymentSpec is one deployment's settings with every default applied.
type DeploymentSpec struct {
	// Application and Name identify the deployment.
	Application string
	Name        string
	// RoutePrefix is the application's route prefix ("/" by default); "" if
	// route_prefix is explicitly null: the application is not exposed.
	RoutePrefix string
	// Ingress is true for the deployment that receives the application's
	// HTTP traffic.
	Ingress bool
	// NumReplicas is the fixed count, or when autoscaling the initial count
	// (initial_replicas, else min_replicas).
	NumReplicas int
	// Autoscaling is nil if the deployment does not autoscale; otherwise a
	// copy with every field set: Ray's defaults (min 1, max 1, or max 100
	// with num_replicas: auto; target 2; metrics_interval_s 10;
	// look_back_period_s 30; upscale_delay_s 30; downscale_delay_s 600;
	// aggregation mean) under the user's fields. initial_replicas defaults
	// to min_replicas, downscale_to_zero_delay_s to downscale_delay_s, and
	// the scaling factors fall back to the smoothing factors, then 1.
	Autoscaling *AutoscalingConfig
	// MaxOngoingRequests bounds in-flight requests per replica (default 5).
	MaxOngoingRequests int
	// MaxQueuedRequests bounds waiting requests; -1 (default) is unbounded.
	MaxQueuedRequests int
	// UserConfig is the user_config JSON; nil when unset or null.
	UserConfig json.RawMessage
	// Drain and health settings (defaults 2s, 20s, 10s, 30s).
	GracefulShutdownWaitLoop time.Duration
	GracefulShutdownTimeout  time.Duration
	HealthCheckPeriod        time.Duration
	HealthCheckTimeout       time.Duration
	// RequestTimeout is http_options.request_timeout_s; 0 means none.
	RequestTimeout time.Duration
	// Idempotent marks every request as safe to retry.
	Idempotent bool
	// Command is the resolved argv: "gantry" as argv[0] becomes the running
	// executable; a relative path containing "/" is joined with the config's
	// BaseDir; bare names ("python3") are left for PATH lookup.
	Command []string
	// Env is added to the replica's environment.
	Env map[string]string
	// WorkingDir is the replica's working directory: BaseDir by default,
	// relative paths joined with BaseDir.
	WorkingDir string
	// Protocol is "http" (default) or "grpc".
	Protocol string
	// HealthPath is the health endpoint (default "/-/healthz").
	HealthPath string
	// Image is the container image on the Kubernetes backend.
	Image string
	// Code is what replicas are made of: the replica block and
	// ray_actor_options, resolved against BaseDir (see Code).
	Code Code
	// CodeVersion is Code.Version(): when it changes, replicas must be
	// replaced. user_config, num_replicas, autoscaling and health settings
	// do not change it; they are applied in place.
	CodeVersion string
}

// Specs returns the resolved settings of every deployment, in config order.
// self is the path of the running gantry executable, which a replica
// command of "gantry" resolves to (left as is when self is empty). Relative
// paths resolve against BaseDir; with an empty BaseDir they are left as is.
// Specs assumes a valid config but does not panic on an invalid one.
func (c *Config) Specs(self string) []DeploymentSpec {
	var out []DeploymentSpec
	for i := range c.Applications {
		a := &c.Applications[i]
		prefix, exposed := a.Route()
		if !exposed {
			prefix = ""
		}
		ingress := a.IngressName()
		for j := range a.Deployments {
			d := &a.Deployments[j]
			s := DeploymentSpec{
				Application:              a.EffectiveName(),
				Name:                     d.Name,
				RoutePrefix:              prefix,
				Ingress:                  d.Name == ingress,
				NumReplicas:              1,
				Autoscaling:              resolveAutoscaling(d),
				MaxOngoingRequests:       intOrDefault(d.MaxOngoingRequests, DefaultMaxOngoingRequests),
				MaxQueuedRequests:        intOrDefault(d.MaxQueuedRequests, DefaultMaxQueuedRequests),
				GracefulShutdownWaitLoop: durationOrDefault(d.GracefulShutdownWaitLoopS, DefaultGracefulShutdownWaitLoop),
				GracefulShutdownTimeout:  durationOrDefault(d.GracefulShutdownTimeoutS, DefaultGracefulShutdownTimeout),
				HealthCheckPeriod:        durationOrDefault(d.HealthCheckPeriodS, DefaultHealthCheckPeriod),
				HealthCheckTimeout:       durationOrDefault(d.HealthCheckTimeoutS, DefaultHealthCheckTimeout),
				RequestTimeout:           durationOrDefault(c.HTTPOptions.RequestTimeoutS, 0),
				Idempotent:               d.Idempotent,
				WorkingDir:               c.BaseDir,
				Protocol:                 DefaultProtocol,
				HealthPath:               DefaultHealthPath,
			}
			s.Code = deploymentCode(d, c.BaseDir)
			s.CodeVersion = s.Code.Version()
			switch {
			case s.Autoscaling != nil:
				s.NumReplicas = *s.Autoscaling.InitialReplicas
			case d.NumReplicas != nil:
				s.NumReplicas = d.NumReplicas.Count
			}
			if u := strings.TrimSpace(string(d.UserConfig)); u != "" && u != "null" {
				s.UserConfig = slices.Clone(d.UserConfig)
			}
			if r := d.Replica; r != nil {
				s.Command = resolveCommand(r.Command, self, c.BaseDir)
				s.Env = maps.Clone(r.Env)
				s.WorkingDir = resolvePath(r.WorkingDir, c.BaseDir)
				s.Protocol = stringOrDefault(r.Protocol, DefaultProtocol)
				s.HealthPath = stringOrDefault(r.HealthPath, DefaultHealthPath)
				s.Image = r.Image
			}
			out = append(out, s)
		}
	}
	return out
}

// resolveAutoscaling returns the deployment's autoscaling config with every
// default applied, or nil if it does not autoscale.
func resolveAutoscaling(d *Deployment) *AutoscalingConfig {
	auto := d.NumReplicas != nil && d.NumReplicas.Auto
	if !auto && d.AutoscalingConfig == nil {
		return nil
	}
	u := d.AutoscalingConfig
	if u == nil {
		u = &AutoscalingConfig{}
	}
	maxDefault := 1
	if auto {
		maxDefault = 100
	}
	r := &AutoscalingConfig{
		MinReplicas:           newPtr(intOrDefault(u.MinReplicas, 1)),
		MaxReplicas:           newPtr(intOrDefault(u.MaxReplicas, maxDefault)),
		TargetOngoingRequests: newPtr(floatOrDefault(u.TargetOngoingRequests, 2)),
		MetricsIntervalS:      newPtr(floatOrDefault(u.MetricsIntervalS, 10)),
		LookBackPeriodS:       newPtr(floatOrDefault(u.LookBackPeriodS, 30)),
		UpscaleDelayS:         newPtr(floatOrDefault(u.UpscaleDelayS, 30)),
		DownscaleDelayS:       newPtr(floatOrDefault(u.DownscaleDelayS, 600)),
		SmoothingFactor:       newPtr(floatOrDefault(u.SmoothingFactor, 1)),
		AggregationFunction:   stringOrDefault(u.AggregationFunction, "mean"),
	}
	r.InitialReplicas = newPtr(intOrDefault(u.InitialReplicas, *r.MinReplicas))
	r.DownscaleToZeroDelayS = newPtr(floatOrDefault(u.DownscaleToZeroDelayS, *r.DownscaleDelayS))
	r.UpscaleSmoothingFactor = newPtr(floatOrDefault(u.UpscaleSmoothingFactor, *r.SmoothingFactor))
	r.DownscaleSmoothing = newPtr(floatOrDefault(u.DownscaleSmoothing, *r.SmoothingFactor))
	r.UpscalingFactor = newPtr(floatOrDefault(u.UpscalingFactor, *r.UpscaleSmoothingFactor))
	r.DownscalingFactor = newPtr(floatOrDefault(u.DownscalingFactor, *r.DownscaleSmoothing))
	return r
}

// resolveCommand resolves argv[0]: "gantry" to self, a relative path with a
// "/" against base. Bare names and the other arguments are left as they are.
func resolveCommand(argv []string, self, base string) []string {
	out := slices.Clone(argv)
	if len(out) == 0 {
		return out
	}
	switch a0 := out[0]; {
	case a0 == "gantry":
		if self != "" {
			out[0] = self
		}
	case strings.ContainsRune(a0, '/') || strings.ContainsRune(a0, filepath.Separator):
		out[0] = resolvePath(a0, base)
	}
	return out
}

// resolvePath joins a relative path with base; an empty path gives base.
func resolvePath(p, base string) string {
	if p == "" || filepath.IsAbs(p) || base == "" {
		return stringOrDefault(p, base)
	}
	return filepath.Join(base, p)
}

// EffectiveName returns the application's name, "default" when omitted.
func (a *Application) EffectiveName() string { return stringOrDefault(a.Name, DefaultApplicationName) }

// Route returns the application's route prefix ("/" when omitted) and
// whether it is exposed over HTTP at all (false for route_prefix: null).
func (a *Application) Route() (prefix string, exposed bool) {
	if a.RoutePrefix != nil {
		return *a.RoutePrefix, true
	}
	if a.RoutePrefixNull {
		return "", false
	}
	return DefaultRoutePrefix, true
}

// IngressName returns the deployment that receives the application's
// traffic: ingress if set, else the first deployment ("" if none).
func (a *Application) IngressName() string {
	if a.Ingress != "" || len(a.Deployments) == 0 {
		return a.Ingress
	}
	return a.Deployments[0].Name
}

// Chips returns the chip count of the group's topology, 0 if it is invalid.
func (g *WorkerGroup) Chips() int {
	n, _ := topologyChips(g.Topology)
	return n
}

// Hosts returns the hosts per slice (chips / chips_per_host), 0 if invalid.
func (g *WorkerGroup) Hosts() int {
	if n := g.Chips(); g.ChipsPerHost > 0 && n%g.ChipsPerHost == 0 {
		return n / g.ChipsPerHost
	}
	return 0
}

// HTTPAddr is the HTTP ingress address (default 127.0.0.1:8000).
func (c *Config) HTTPAddr() string {
	return joinHostPort(c.HTTPOptions.Host, DefaultHTTPHost, c.HTTPOptions.Port, DefaultHTTPPort)
}

// GRPCAddr is the gRPC ingress address: the HTTP host (as in Ray) and
// grpc_options.port (default 9000).
func (c *Config) GRPCAddr() string {
	return joinHostPort(c.HTTPOptions.Host, DefaultHTTPHost, c.GRPCOptions.Port, DefaultGRPCPort)
}

// DashboardAddr is the REST API and dashboard address (default 127.0.0.1:8265).
func (c *Config) DashboardAddr() string {
	return joinHostPort(c.Dashboard.Host, DefaultDashboardHost, c.Dashboard.Port, DefaultDashboardPort)
}

// KeepAliveTimeout is how long idle client connections are kept (default 90s).
func (c *Config) KeepAliveTimeout() time.Duration {
	return durationOrDefault(c.HTTPOptions.KeepAliveTimeoutS, DefaultKeepAliveTimeout)
}

// RequestTimeout is http_options.request_timeout_s; 0 means none.
func (c *Config) RequestTimeout() time.Duration {
	return durationOrDefault(c.HTTPOptions.RequestTimeoutS, 0)
}

// GRPCRequestTimeout is grpc_options.request_timeout_s; 0 means none.
func (c *Config) GRPCRequestTimeout() time.Duration {
	return durationOrDefault(c.GRPCOptions.RequestTimeoutS, 0)
}

// MaxRequestBodyBytes limits request bodies (default 100 MiB).
func (c *Config) MaxRequestBodyBytes() int64 {
	if n := c.HTTPOptions.MaxRequestBodyBytes; n > 0 {
		return n
	}
	return DefaultMaxRequestBodyBytes
}

// MaxHeaderBytes limits request headers (default 1 MiB).
func (c *Config) MaxHeaderBytes() int {
	if n := c.HTTPOptions.MaxHeaderBytes; n > 0 {
		return n
	}
	return DefaultMaxHeaderBytes
}

// ReadHeaderTimeout bounds reading a request's head (default 10s).
func (c *Config) ReadHeaderTimeout() time.Duration {
	return durationOrDefault(c.HTTPOptions.ReadHeaderTimeoutS, DefaultReadHeaderTimeout)
}

// MinBodyRate is the slowest average rate, in bytes per second, a request
// body may arrive at after SlowClientGrace (default 1024).
func (c *Config) MinBodyRate() float64 {
	return floatOrDefault(c.HTTPOptions.MinBodyRateBytesPerS, DefaultMinBodyRateBytesPerS)
}

// MinResponseRate is the slowest rate, in bytes per second, a client may
// read its response at (default 1024).
func (c *Config) MinResponseRate() float64 {
	return floatOrDefault(c.HTTPOptions.MinResponseRateBytesPerS, DefaultMinResponseRateBytesPerS)
}

// SlowClientGrace is how long a client may fall below the minimum rates,
// and the longest wait for its next byte either way (default 10s).
func (c *Config) SlowClientGrace() time.Duration {
	return durationOrDefault(c.HTTPOptions.SlowClientGraceS, DefaultSlowClientGrace)
}

// MaxInferBodyBytes limits the Open Inference Protocol REST bodies the
// gateway holds whole (default 16 MiB).
func (c *Config) MaxInferBodyBytes() int64 {
	return valueOrDefault(c.HTTPOptions.MaxInferBodyBytes, DefaultMaxInferBodyBytes)
}

// MaxHTTPConnections limits open connections on the HTTP port, before the
// open-file limit is considered (default 10000).
func (c *Config) MaxHTTPConnections() int {
	return valueOrDefault(c.HTTPOptions.MaxConnections, DefaultMaxConnections)
}

// MaxGRPCConnections limits open connections on the gRPC port, before the
// open-file limit is considered (default 10000).
func (c *Config) MaxGRPCConnections() int {
	return valueOrDefault(c.GRPCOptions.MaxConnections, DefaultMaxConnections)
}

// MaxReceiveMessageBytes limits one gRPC message from a client (default 16 MiB).
func (c *Config) MaxReceiveMessageBytes() int {
	return valueOrDefault(c.GRPCOptions.MaxReceiveMessageBytes, DefaultMaxReceiveMessageBytes)
}

// MaxConcurrentStreams limits the gRPC calls open at once on one client
// connection (default 100).
func (c *Config) MaxConcurrentStreams() int {
	return valueOrDefault(c.GRPCOptions.MaxConcurrentStreams, DefaultMaxConcurrentStreams)
}

func valueOrDefault[T int | int64](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}

func joinHostPort(host, defHost string, port, defPort int) string {
	if port == 0 {
		port = defPort
	}
	return net.JoinHostPort(stringOrDefault(host, defHost), strconv.Itoa(port))
}

func newPtr[T any](v T) *T { return &v }

func intOrDefault(p *int, def int) int {
	if p == nil {
		return def
	}
	return *p
}

func floatOrDefault(p *float64, def float64) float64 {
	if p == nil {
		return def
	}
	return *p
}

func durationOrDefault(p *float64, def time.Duration) time.Duration {
	if p == nil {
		return def
	}
	return seconds(*p)
}

func stringOrDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// seconds converts seconds from the config into a Duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

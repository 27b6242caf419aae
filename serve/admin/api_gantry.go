package admin

import (
	"encoding/json"
	"net/http"
	"strings"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/respond"
)

// Gantry's view, GET /api/gantry/applications: the same shape as Ray's
// ServeInstanceDetails plus what Ray's schema has no room for. Gantry's CLI
// and dashboard read this one; Ray's tools read /api/serve/applications/.

// GantryInstance is Ray's ServeInstanceDetails plus the applied config.
type GantryInstance struct {
	RayServeInstanceDetails
	Applications map[string]GantryApplication `json:"applications"`
	// Config is the whole config last applied, as given (defaults not
	// filled in); null before any was applied.
	Config *config.Config `json:"config"`
}

// GantryApplication is Ray's ApplicationDetails with the application's
// Gantry config as applied in deployed_app_config.
type GantryApplication struct {
	RayApplication
	DeployedAppConfig config.Application          `json:"deployed_app_config"`
	Deployments       map[string]GantryDeployment `json:"deployments"`
}

// GantryDeployment is Ray's DeploymentDetails plus Gantry's settings.
type GantryDeployment struct {
	RayDeployment
	Replicas []GantryReplica `json:"replicas"`
	// Config is the deployment's config as written.
	Config config.Deployment `json:"config"`
	// UserConfig is the user_config in force, any JSON (Ray's
	// deployment_config only has room for an object).
	UserConfig json.RawMessage `json:"user_config"`
	// CodeVersion is the version replicas must run: a hash of the replica
	// block and ray_actor_options.
	CodeVersion string `json:"code_version"`
	// Ingress is true for the deployment that receives the application's
	// HTTP traffic.
	Ingress bool `json:"ingress"`
	// Queued is the number of requests waiting for a replica now.
	Queued int64 `json:"queued"`
	// Autoscaler is the last autoscaling decision; absent unless the
	// deployment autoscales.
	Autoscaler *GantryAutoscaler `json:"autoscaler,omitempty"`
}

// GantryAutoscaler is what the autoscaler last saw and decided.
type GantryAutoscaler struct {
	// Load is requests in flight plus queued, averaged over look_back_period_s.
	Load float64 `json:"load"`
	// TargetReplicas is the count the controller works toward.
	TargetReplicas int `json:"target_replicas"`
	// WantedReplicas is what the load asks for before the delays.
	WantedReplicas int `json:"wanted_replicas"`
	// Reason explains the last decision.
	Reason string `json:"reason"`
}

// GantryReplica is Ray's ReplicaDetails with the state as is (PENDING
// included) and what the router knows.
type GantryReplica struct {
	RayReplica
	// State is Gantry's state: Ray's plus PENDING (waiting for a TPU slice).
	State string `json:"state"`
	// Version is the code version the replica runs.
	Version string `json:"version"`
	// Address is where the replica serves (host:port).
	Address string `json:"address"`
	// Inflight is the number of requests the replica is serving now.
	Inflight int64 `json:"inflight"`
	// MultiplexedModelIDs are the multiplexed models the replica last said
	// it has loaded (Gantry-Multiplexed-Models); empty for one that does
	// not multiplex.
	MultiplexedModelIDs []string `json:"multiplexed_model_ids"`
	// Slice is the TPU slice the replica holds; absent without one.
	Slice *GantrySlice `json:"slice,omitempty"`
	// Members are the replica's processes, one per host of its slice;
	// member 0 takes the traffic.
	Members []GantryMember `json:"members,omitempty"`
}

// GantrySlice names a TPU slice: its worker group and index (TPU_NAME is
// <group>-<index>).
type GantrySlice struct {
	Group string `json:"group"`
	Index int    `json:"index"`
}

// GantryMember is one process of a replica.
type GantryMember struct {
	Host    int    `json:"host"`
	Address string `json:"address"`
	PID     int    `json:"pid"`
	LogPath string `json:"log_file_path"`
}

func (s *Server) gantryInstance(snap *deploy.Snapshot) GantryInstance {
	v := GantryInstance{
		RayServeInstanceDetails: s.rayInstance(&deploy.Snapshot{Config: snap.Config}),
		Applications:            map[string]GantryApplication{},
		Config:                  snap.Config,
	}
	for _, a := range snap.Applications {
		ga := GantryApplication{
			RayApplication:    s.rayApplication(deploy.AppStatus{Name: a.Name, RoutePrefix: a.RoutePrefix, Status: a.Status, Message: a.Message, LastDeployedTime: a.LastDeployedTime}),
			DeployedAppConfig: a.Config,
			Deployments:       map[string]GantryDeployment{},
		}
		for _, d := range a.Deployments {
			traffic := s.controller.Traffic(d.Application, d.Deployment)
			gd := GantryDeployment{
				RayDeployment: s.rayDeployment(d),
				Replicas:      []GantryReplica{},
				Config:        d.Config,
				CodeVersion:   d.Spec.CodeVersion,
				Ingress:       d.Spec.Ingress,
				Queued:        traffic.Queued,
			}
			if a := d.Autoscaler; a != nil {
				gd.Autoscaler = &GantryAutoscaler{Load: a.Load, TargetReplicas: d.Target, WantedReplicas: a.Wanted, Reason: a.Reason}
			}
			if u := strings.TrimSpace(string(d.Spec.UserConfig)); u != "" {
				gd.UserConfig = json.RawMessage(u)
			}
			gd.RayDeployment.Replicas = nil
			for _, r := range d.Replicas {
				gr := s.gantryReplica(r, traffic.Inflight[r.ID])
				if ids := traffic.Models[r.ID]; ids != nil {
					gr.MultiplexedModelIDs = ids
				}
				gd.Replicas = append(gd.Replicas, gr)
			}
			ga.Deployments[d.Deployment] = gd
		}
		v.Applications[a.Name] = ga
	}
	v.RayServeInstanceDetails.Applications = nil
	return v
}

func (s *Server) gantryReplica(r deploy.ReplicaStatus, inflight int64) GantryReplica {
	gr := GantryReplica{
		RayReplica: s.rayReplica(r),
		State:      string(r.State),
		Version:    r.Version,
		Address:    r.Address,
		Inflight:   inflight,

		MultiplexedModelIDs: []string{},
	}
	if r.Slice >= 0 && r.Group != "" {
		gr.Slice = &GantrySlice{Group: r.Group, Index: r.Slice}
	}
	for _, m := range r.Members {
		gr.Members = append(gr.Members, GantryMember{Host: m.Host, Address: m.Address, PID: m.PID, LogPath: m.LogPath})
	}
	return gr
}

// GantryHandle is the answer of GET /api/gantry/handle: where a local
// driver script (serve.run) makes handle calls, and with what token.
type GantryHandle struct {
	Address string `json:"address"`
	Token   string `json:"token"`
}

// getHandle gives the handle endpoint's address and token to a client the
// gateway already trusts with mutating calls (loopback without an admin
// token, else the admin token: see auth.go).
func (s *Server) getHandle(w http.ResponseWriter, _ *http.Request) {
	if s.opts.HandleAddress == "" {
		respond.Text(w, http.StatusNotFound, "this gateway has no handle endpoint")
		return
	}
	respond.JSON(w, http.StatusOK, GantryHandle{Address: s.opts.HandleAddress, Token: s.opts.HandleToken})
}

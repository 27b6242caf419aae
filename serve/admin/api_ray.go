package admin

import (
	"encoding/json"
	"maps"
	"strings"

	"gantry.dev/gantry/deploy/config"
)

// The JSON that Ray's dashboard answers on GET /api/serve/applications/:
// ServeInstanceDetails and what it holds, from python/ray/serve/schema.py
// (Ray 2.60). Ray's own `serve` CLI parses these with pydantic models that
// forbid unknown fields (ServeInstanceDetails, ApplicationDetails,
// DeploymentDetails), so these types hold exactly Ray's field names and
// nothing else; Gantry's additions live in api_gantry.go. Every field Ray
// requires is always written (null where Ray allows it), and lists and maps
// are never null.

// RayCompatVersion is the Ray release whose dashboard API Gantry speaks and
// is tested against (tests/raycli); GET /api/ray/version reports it.
const RayCompatVersion = "2.60.0"

// rayAPIVersion is the dashboard's CURRENT_VERSION
// (python/ray/dashboard/modules/version.py).
const rayAPIVersion = "4"

// RayVersion is Ray's VersionResponse, the answer of GET /api/ray/version.
// Ray's clients check ray_version (at least 1.12 for the Serve CLI).
type RayVersion struct {
	Version     string `json:"version"`
	RayVersion  string `json:"ray_version"`
	RayCommit   string `json:"ray_commit"`
	SessionName string `json:"session_name"`
}

// RayServeInstanceDetails is Ray's ServeInstanceDetails. Ray's deprecated
// deploy_mode is left out: Ray 2.60's model forbids it.
type RayServeInstanceDetails struct {
	ControllerInfo RayActorDetails            `json:"controller_info"`
	ProxyLocation  string                     `json:"proxy_location"`
	HTTPOptions    RayHTTPOptions             `json:"http_options"`
	GRPCOptions    RayGRPCOptions             `json:"grpc_options"`
	Proxies        map[string]RayProxyDetails `json:"proxies"`
	Applications   map[string]RayApplication  `json:"applications"`
	TargetCapacity *float64                   `json:"target_capacity"`
}

// RayActorDetails is Ray's ServeActorDetails: where a Serve actor runs.
// Gantry has no actors: node_id names the gateway, actor_name what runs
// there, and the fields that mean nothing here are null.
type RayActorDetails struct {
	NodeID         *string `json:"node_id"`
	NodeIP         *string `json:"node_ip"`
	NodeInstanceID *string `json:"node_instance_id"`
	ActorID        *string `json:"actor_id"`
	ActorName      *string `json:"actor_name"`
	WorkerID       *string `json:"worker_id"`
	LogFilePath    *string `json:"log_file_path"`
}

// RayProxyDetails is Ray's ProxyDetails: Gantry's HTTP ingress.
type RayProxyDetails struct {
	RayActorDetails
	// Status is HEALTHY, or DRAINING while the gateway shuts down.
	Status string `json:"status"`
}

// RayHTTPOptions is Ray's HTTPOptionsSchema, with the values in force.
type RayHTTPOptions struct {
	Host            string   `json:"host"`
	Port            int      `json:"port"`
	RootPath        string   `json:"root_path"`
	RequestTimeoutS *float64 `json:"request_timeout_s"`
	// KeepAliveTimeoutS is an integer in Ray's schema.
	KeepAliveTimeoutS int `json:"keep_alive_timeout_s"`
}

// RayGRPCOptions is Ray's gRPCOptionsSchema.
type RayGRPCOptions struct {
	Port                  int      `json:"port"`
	GRPCServicerFunctions []string `json:"grpc_servicer_functions"`
}

// RayApplication is Ray's ApplicationDetails.
type RayApplication struct {
	Name string `json:"name"`
	// RoutePrefix is null when the application is not exposed over HTTP.
	RoutePrefix *string `json:"route_prefix"`
	// DocsPath is always null: Gantry serves no generated API docs.
	DocsPath          *string `json:"docs_path"`
	Status            string  `json:"status"`
	Message           string  `json:"message"`
	LastDeployedTimeS float64 `json:"last_deployed_time_s"`
	// DeployedAppConfig is the config as applied for an application with
	// an import_path, in Ray's ServeApplicationSchema (Gantry's own fields
	// left out: see rayAppConfig), and null for the others: Ray's schema
	// requires an import_path, and allows null (applications deployed
	// without a config file). Gantry's view has every config as applied.
	DeployedAppConfig json.RawMessage `json:"deployed_app_config"`
	// Source is "declarative": every Gantry application comes from a config.
	Source                string                   `json:"source"`
	Deployments           map[string]RayDeployment `json:"deployments"`
	ExternalScalerEnabled bool                     `json:"external_scaler_enabled"`
}

// RayDeployment is Ray's DeploymentDetails.
type RayDeployment struct {
	Name             string              `json:"name"`
	Status           string              `json:"status"`
	StatusTrigger    string              `json:"status_trigger"`
	Message          string              `json:"message"`
	DeploymentConfig RayDeploymentConfig `json:"deployment_config"`
	// TargetNumReplicas is what the controller aims for now.
	TargetNumReplicas int `json:"target_num_replicas"`
	// RequiredResources per replica, e.g. {"CPU": 1}.
	RequiredResources map[string]float64 `json:"required_resources"`
	Replicas          []RayReplica       `json:"replicas"`
}

// RayDeploymentConfig is Ray's DeploymentSchema with the settings in force
// (defaults applied). Ray's schema wants num_replicas ≥ 1 and user_config an
// object, so num_replicas is left out at 0 (target_num_replicas says 0) and
// a user_config that is not a JSON object is left out (Gantry's view has it).
type RayDeploymentConfig struct {
	Name                      string             `json:"name"`
	NumReplicas               *int               `json:"num_replicas,omitempty"`
	MaxOngoingRequests        int                `json:"max_ongoing_requests"`
	MaxQueuedRequests         int                `json:"max_queued_requests"`
	UserConfig                json.RawMessage    `json:"user_config,omitempty"`
	AutoscalingConfig         any                `json:"autoscaling_config,omitempty"`
	GracefulShutdownWaitLoopS float64            `json:"graceful_shutdown_wait_loop_s"`
	GracefulShutdownTimeoutS  float64            `json:"graceful_shutdown_timeout_s"`
	HealthCheckPeriodS        float64            `json:"health_check_period_s"`
	HealthCheckTimeoutS       float64            `json:"health_check_timeout_s"`
	RayActorOptions           RayActorOptionsOut `json:"ray_actor_options"`
}

// RayActorOptionsOut is Ray's RayActorOptionsSchema as Ray reports it: the
// resources a replica asks for (num_cpus defaults to 1, as in Ray).
type RayActorOptionsOut struct {
	NumCPUs         float64            `json:"num_cpus"`
	NumGPUs         *float64           `json:"num_gpus,omitempty"`
	Memory          *float64           `json:"memory,omitempty"`
	Resources       map[string]float64 `json:"resources,omitempty"`
	AcceleratorType string             `json:"accelerator_type,omitempty"`
}

// RayReplica is Ray's ReplicaDetails.
type RayReplica struct {
	RayActorDetails
	// ReplicaID is app#deployment#suffix, as in Ray.
	ReplicaID string `json:"replica_id"`
	// State is one of Ray's replica states: PENDING shows as STARTING.
	State string `json:"state"`
	// PID is member 0's process id; null before the process exists.
	PID        *int    `json:"pid"`
	StartTimeS float64 `json:"start_time_s"`
}

// rayAppConfig is an import_path application's config as Ray's
// ServeApplicationSchema, which forbids fields it does not know: Gantry's
// python and ingress, and deployments' idempotent, are left out (an
// import_path application has no replica blocks), and a working_dir path
// is written as a local:// URI of the folder it resolves to against base
// (the config's folder), the only local form Ray's schema takes. It
// is nil (JSON null)
// for an application without an import_path.
func rayAppConfig(a config.Application, base string) json.RawMessage {
	if !a.IsPython() {
		return nil
	}
	a.Python, a.Ingress = "", ""
	if wd, ok := a.RuntimeEnv["working_dir"].(string); ok && !strings.Contains(wd, "://") {
		env := maps.Clone(a.RuntimeEnv)
		// Ray's schema takes only URIs here; the folder as resolved.
		env["working_dir"] = config.LocalURIScheme + a.PythonApp(base).WorkingDir
		a.RuntimeEnv = env
	}
	deps := make([]config.Deployment, len(a.Deployments))
	for i, d := range a.Deployments {
		d.Idempotent, d.Replica = false, nil
		deps[i] = d
	}
	a.Deployments = deps
	b, err := json.Marshal(a)
	if err != nil {
		return nil
	}
	return b
}

// baseDir is the folder the applied config's relative paths resolve
// against; "" when none is known.
func (s *Server) baseDir() string {
	if c := s.controller.Snapshot().Config; c != nil {
		return c.BaseDir
	}
	return ""
}

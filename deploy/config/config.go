package config

import "encoding/json"

// Config is the declarative configuration: Ray Serve's config file schema with
// the same field names and defaults, plus Gantry's additions (replica,
// ingress, dashboard, worker_groups). The same document is the body of
// PUT /api/serve/applications/.
type Config struct {
	// ProxyLocation is accepted for compatibility with Ray configs
	// (EveryNode, HeadOnly, Disabled); Gantry always runs one ingress per gateway.
	ProxyLocation string `json:"proxy_location,omitempty"`
	// HTTPOptions configures the HTTP ingress (port 8000 by default).
	HTTPOptions HTTPOptions `json:"http_options"`
	// GRPCOptions configures the gRPC ingress (port 9000 by default).
	GRPCOptions GRPCOptions `json:"grpc_options"`
	// Dashboard configures the REST API, metrics and web UI (127.0.0.1:8265).
	Dashboard DashboardOptions `json:"dashboard"`
	// LoggingConfig is Ray's logging block.
	LoggingConfig *LoggingConfig `json:"logging_config,omitempty"`
	// Applications are the applications to run.
	Applications []Application `json:"applications"`
	// WorkerGroups are pools of TPU podslices replicas can be placed on.
	WorkerGroups []WorkerGroup `json:"worker_groups,omitempty"`
	// BaseDir is the folder relative replica paths resolve against: the
	// config file's folder when read by LoadFile; not part of the document.
	BaseDir string `json:"-"`
}

// HTTPOptions configures the HTTP ingress.
type HTTPOptions struct {
	// Host to bind; default 127.0.0.1 on the local backend (Ray: 0.0.0.0).
	Host string `json:"host,omitempty"`
	// Port to bind; default 8000.
	Port int `json:"port,omitempty"`
	// RootPath is Ray's root_path; accepted, must be empty or start with "/".
	RootPath string `json:"root_path,omitempty"`
	// RequestTimeoutS bounds a request until its response starts; unset: no timeout.
	RequestTimeoutS *float64 `json:"request_timeout_s,omitempty"`
	// KeepAliveTimeoutS is how long an idle client connection is kept; default 90.
	KeepAliveTimeoutS *float64 `json:"keep_alive_timeout_s,omitempty"`
	// MaxRequestBodyBytes limits request bodies (Gantry addition); default 100 MiB.
	MaxRequestBodyBytes int64 `json:"max_request_body_bytes,omitempty"`
	// MaxHeaderBytes limits request headers (Gantry addition); default 1 MiB.
	MaxHeaderBytes int `json:"max_header_bytes,omitempty"`
	// The fields below are Gantry additions that bound what one client can
	// hold (docs/limits.md); Ray's REST API does not show them.

	// ReadHeaderTimeoutS bounds reading a request's head; default 10.
	ReadHeaderTimeoutS *float64 `json:"read_header_timeout_s,omitempty"`
	// MinBodyRateBytesPerS is the slowest average rate a request body may
	// arrive at once SlowClientGraceS has passed (else 408); default 1024.
	MinBodyRateBytesPerS *float64 `json:"min_body_rate_bytes_per_s,omitempty"`
	// MinResponseRateBytesPerS is the slowest rate a client may read its
	// response at, measured over SlowClientGraceS (else it is cut); default 1024.
	MinResponseRateBytesPerS *float64 `json:"min_response_rate_bytes_per_s,omitempty"`
	// SlowClientGraceS is how long a client may fall below either rate, and
	// the longest wait for its next byte; default 10.
	SlowClientGraceS *float64 `json:"slow_client_grace_s,omitempty"`
	// MaxInferBodyBytes limits Open Inference Protocol REST bodies that the
	// gateway must hold whole (to translate them for gRPC replicas);
	// default 16 MiB.
	MaxInferBodyBytes *int64 `json:"max_infer_body_bytes,omitempty"`
	// MaxConnections limits open client connections on the HTTP port;
	// default 10000, lowered to fit the open-file limit.
	MaxConnections *int `json:"max_connections,omitempty"`
}

// GRPCOptions configures the gRPC ingress.
type GRPCOptions struct {
	// Port to bind; default 9000.
	Port int `json:"port,omitempty"`
	// GRPCServicerFunctions is Ray's list of servicer import paths; Gantry
	// proxies gRPC without it, so it must be empty.
	GRPCServicerFunctions []string `json:"grpc_servicer_functions,omitempty"`
	// RequestTimeoutS bounds a gRPC call; unset: no timeout.
	RequestTimeoutS *float64 `json:"request_timeout_s,omitempty"`
	// MaxReceiveMessageBytes limits one message from a client (Gantry
	// addition); default 16 MiB.
	MaxReceiveMessageBytes *int `json:"max_receive_message_bytes,omitempty"`
	// MaxConcurrentStreams limits the calls open at once on one client
	// connection (Gantry addition); default 100.
	MaxConcurrentStreams *int `json:"max_concurrent_streams,omitempty"`
	// MaxConnections limits open client connections on the gRPC port
	// (Gantry addition); default 10000, lowered to fit the open-file limit.
	MaxConnections *int `json:"max_connections,omitempty"`
}

// DashboardOptions configures the admin surface (REST API, /metrics, web UI).
type DashboardOptions struct {
	// Host to bind; default 127.0.0.1.
	Host string `json:"host,omitempty"`
	// Port to bind; default 8265.
	Port int `json:"port,omitempty"`
}

// LoggingConfig is Ray Serve's logging block.
type LoggingConfig struct {
	// Encoding is TEXT (default) or JSON.
	Encoding string `json:"encoding,omitempty"`
	// LogLevel is DEBUG, INFO (default), WARNING, ERROR or CRITICAL.
	LogLevel string `json:"log_level,omitempty"`
	// LogsDir overrides where replica logs are written.
	LogsDir string `json:"logs_dir,omitempty"`
	// EnableAccessLog turns the per-request access log on (default true).
	EnableAccessLog *bool `json:"enable_access_log,omitempty"`
}

// Application is one routable application: a route prefix and its deployments.
type Application struct {
	// Name is unique among applications; default "default".
	Name string `json:"name,omitempty"`
	// RoutePrefix is where the application is served; default "/".
	// Must start with "/", must not end with "/" (unless it is "/").
	RoutePrefix *string `json:"route_prefix,omitempty"`
	// RoutePrefixNull records an explicit `route_prefix: null`: the
	// application is not exposed over HTTP. Application's JSON methods
	// read and write it as that null.
	RoutePrefixNull bool `json:"-"`
	// Ingress names the deployment that receives the application's traffic;
	// default: the only deployment, else the first.
	Ingress string `json:"ingress,omitempty"`
	// ImportPath is Ray's Python entry point; refused (Gantry runs replica.command).
	ImportPath string `json:"import_path,omitempty"`
	// RuntimeEnv is Ray's Python runtime environment; refused.
	RuntimeEnv map[string]any `json:"runtime_env,omitempty"`
	// Args are Ray's application builder args; refused (use replica.env).
	Args map[string]any `json:"args,omitempty"`
	// Deployments are the application's deployments.
	Deployments []Deployment `json:"deployments"`
	// LoggingConfig overrides the top-level logging block.
	LoggingConfig *LoggingConfig `json:"logging_config,omitempty"`
}

// Deployment is a pool of identical replicas.
type Deployment struct {
	// Name is unique within the application.
	Name string `json:"name"`
	// NumReplicas is a count or "auto"; default 1. A count cannot be
	// combined with autoscaling_config.
	NumReplicas *NumReplicas `json:"num_replicas,omitempty"`
	// MaxOngoingRequests bounds in-flight requests per replica; default 5.
	MaxOngoingRequests *int `json:"max_ongoing_requests,omitempty"`
	// MaxQueuedRequests bounds requests waiting for a replica; -1 (default) is unbounded.
	MaxQueuedRequests *int `json:"max_queued_requests,omitempty"`
	// UserConfig is passed to replicas (GANTRY_USER_CONFIG, POST /-/reconfigure).
	UserConfig json.RawMessage `json:"user_config,omitempty"`
	// AutoscalingConfig enables autoscaling.
	AutoscalingConfig *AutoscalingConfig `json:"autoscaling_config,omitempty"`
	// GracefulShutdownWaitLoopS is Ray's drain poll period; default 2.
	GracefulShutdownWaitLoopS *float64 `json:"graceful_shutdown_wait_loop_s,omitempty"`
	// GracefulShutdownTimeoutS bounds the drain and the SIGTERM wait; default 20.
	GracefulShutdownTimeoutS *float64 `json:"graceful_shutdown_timeout_s,omitempty"`
	// HealthCheckPeriodS is the period of health checks; default 10.
	HealthCheckPeriodS *float64 `json:"health_check_period_s,omitempty"`
	// HealthCheckTimeoutS bounds one health check; default 30.
	HealthCheckTimeoutS *float64 `json:"health_check_timeout_s,omitempty"`
	// RayActorOptions holds the replica's resource needs.
	RayActorOptions *RayActorOptions `json:"ray_actor_options,omitempty"`
	// Idempotent marks every request as safe to retry on another replica
	// (Gantry addition); by default only GET, HEAD and OPTIONS are.
	Idempotent bool `json:"idempotent,omitempty"`
	// Replica says how to run one replica (Gantry addition).
	Replica *ReplicaConfig `json:"replica,omitempty"`
}

// NumReplicas is num_replicas: a non-negative count or "auto".
type NumReplicas struct {
	Auto  bool
	Count int
}

// AutoscalingConfig is Ray Serve's autoscaling_config.
type AutoscalingConfig struct {
	MinReplicas            *int     `json:"min_replicas,omitempty"`
	InitialReplicas        *int     `json:"initial_replicas,omitempty"`
	MaxReplicas            *int     `json:"max_replicas,omitempty"`
	TargetOngoingRequests  *float64 `json:"target_ongoing_requests,omitempty"`
	MetricsIntervalS       *float64 `json:"metrics_interval_s,omitempty"`
	LookBackPeriodS        *float64 `json:"look_back_period_s,omitempty"`
	UpscaleDelayS          *float64 `json:"upscale_delay_s,omitempty"`
	DownscaleDelayS        *float64 `json:"downscale_delay_s,omitempty"`
	DownscaleToZeroDelayS  *float64 `json:"downscale_to_zero_delay_s,omitempty"`
	UpscalingFactor        *float64 `json:"upscaling_factor,omitempty"`
	DownscalingFactor      *float64 `json:"downscaling_factor,omitempty"`
	SmoothingFactor        *float64 `json:"smoothing_factor,omitempty"`
	UpscaleSmoothingFactor *float64 `json:"upscale_smoothing_factor,omitempty"`
	DownscaleSmoothing     *float64 `json:"downscale_smoothing_factor,omitempty"`
	AggregationFunction    string   `json:"aggregation_function,omitempty"`
}

// RayActorOptions is the subset of Ray's ray_actor_options that describes resources.
type RayActorOptions struct {
	NumCPUs         *float64           `json:"num_cpus,omitempty"`
	NumGPUs         *float64           `json:"num_gpus,omitempty"`
	Memory          *float64           `json:"memory,omitempty"`
	Resources       map[string]float64 `json:"resources,omitempty"`
	AcceleratorType string             `json:"accelerator_type,omitempty"`
	RuntimeEnv      map[string]any     `json:"runtime_env,omitempty"`
}

// ReplicaConfig says how to run one replica process.
type ReplicaConfig struct {
	// Command is the argv. A relative path resolves against the config
	// file's folder; "gantry" resolves to the running executable.
	Command []string `json:"command"`
	// Env is added to the replica's environment.
	Env map[string]string `json:"env,omitempty"`
	// WorkingDir is the process's working directory; default the config file's folder.
	WorkingDir string `json:"working_dir,omitempty"`
	// Protocol is http (default) or grpc.
	Protocol string `json:"protocol,omitempty"`
	// HealthPath is the HTTP health endpoint; default /-/healthz.
	HealthPath string `json:"health_path,omitempty"`
	// Image is the container image on the Kubernetes backend.
	Image string `json:"image,omitempty"`
}

// WorkerGroup is a pool of TPU podslices.
type WorkerGroup struct {
	Name         string `json:"name"`
	Accelerator  string `json:"accelerator"`
	Topology     string `json:"topology"`
	ChipsPerHost int    `json:"chips_per_host"`
	Replicas     int    `json:"replicas"`
	MinReplicas  *int   `json:"min_replicas,omitempty"`
	MaxReplicas  *int   `json:"max_replicas,omitempty"`
}

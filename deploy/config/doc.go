// Package config is Gantry's declarative config: the schema, its defaults,
// its validation and its loading. It starts nothing and knows nothing of
// replicas that run; package deploy's controller takes a *Config and makes
// the world match it.
//
// # Schema
//
// Config is a superset of Ray Serve's config file with the same field names
// and defaults, plus Gantry's additions (deployments[].replica,
// applications[].ingress, dashboard, worker_groups). Application and
// Deployment are the document's applications and deployments as written;
// the same document is the body of PUT /api/serve/applications/.
//
// # Parsing and validation
//
// Parse reads YAML or JSON; LoadFile reads a file and records its folder in
// Config.BaseDir. Both reject the whole document at once: an *Error lists
// every Problem, one "path: message" per line, where path is like
// "applications[0].deployments[1].max_ongoing_requests" and the message says
// what is allowed and what was given. Unknown fields are problems (each with
// its path and the fields allowed there), so are values of the wrong type,
// and so are Ray-only fields Gantry cannot honour (import_path, runtime_env,
// args, grpc_servicer_functions), with a message saying what to use instead.
// Validate runs the value checks alone, e.g. on a Config built in code.
// Syntax errors name the line of the problem (the YAML library's own line
// is off by one for parser errors; see syntax.go) and quote it.
//
// # Limits
//
// Names are limited to what every backend can hold (names.go): application
// and deployment names to MaxNameBytes, without '/', control characters,
// "." or ".." (the local backend's log files are named after them);
// worker group names are DNS labels of at most MaxWorkerGroupNameBytes
// (they become TPU pod hostnames). Nesting is limited (depth.go): a
// user_config to MaxUserConfigDepth levels, the whole document to
// MaxDocumentDepth, checked right after decoding; the YAML library stops at
// 10,000 levels, so decoding itself is bounded.
//
// A Kubernetes manifest (apiVersion and kind at the root) is not a config:
// Parse says what it is and what to use instead, in one problem. For a
// KubeRay RayService, FromRayService and LoadRayService read the Ray Serve
// config in its spec.serveConfigV2 string; problems inside it have paths
// below "spec.serveConfigV2", and its syntax errors name the line of the
// file when the string is a literal block.
// Placement is validated here too: a deployment asking for TPU chips that no
// worker group can give is a problem (GroupFor, ValidatePlacement), and the
// topology arithmetic (WorkerGroup.Chips, Hosts, SliceCount) lives beside it.
//
// # Defaults and specs
//
// A parsed Config is kept as written. Defaults are applied when reading it:
// Config.Specs returns one DeploymentSpec per deployment with every default
// applied, replica commands resolved ("gantry" to the running executable,
// relative paths against BaseDir) and its Code, what replicas are made of
// as resolved, with CodeVersion, its hash, which changes exactly when
// replicas must be replaced rather than reconfigured in place (the same
// config gives the same version whether its folder is in BaseDir or its
// paths were resolved before it was sent), and Code.Changes names the
// fields that differ; the
// listener methods (HTTPAddr, GRPCAddr, DashboardAddr, KeepAliveTimeout,
// MaxRequestBodyBytes, MaxHeaderBytes, and the limits on one client:
// ReadHeaderTimeout, MinBodyRate, MinResponseRate, SlowClientGrace,
// MaxInferBodyBytes, MaxHTTPConnections, MaxGRPCConnections,
// MaxReceiveMessageBytes, MaxConcurrentStreams) return the effective
// settings.
//
// Keeping applied configs (the state dir's applied.json) is the
// controller's business and lives in package deploy (Store).
package config

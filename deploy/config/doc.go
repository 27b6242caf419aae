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
// Placement is validated here too: a deployment asking for TPU chips that no
// worker group can give is a problem (GroupFor, ValidatePlacement), and the
// topology arithmetic (WorkerGroup.Chips, Hosts, SliceCount) lives beside it.
//
// # Defaults and specs
//
// A parsed Config is kept as written. Defaults are applied when reading it:
// Config.Specs returns one DeploymentSpec per deployment with every default
// applied, replica commands resolved ("gantry" to the running executable,
// relative paths against BaseDir) and a CodeVersion that changes exactly
// when replicas must be replaced rather than reconfigured in place; the
// listener methods (HTTPAddr, GRPCAddr, DashboardAddr, KeepAliveTimeout,
// MaxRequestBodyBytes, MaxHeaderBytes) return the effective settings.
//
// Keeping applied configs (the state dir's applied.json) is the
// controller's business and lives in package deploy (Store).
package config

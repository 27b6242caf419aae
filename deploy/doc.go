// Package deploy owns Gantry's declarative side: the config schema and its
// validation, the controller that makes observed replicas match the config,
// and the Backend interface that starts replicas.
//
// # Config
//
// Config is a superset of Ray Serve's config file with the same field names
// and defaults, plus Gantry's additions (deployments[].replica,
// applications[].ingress, dashboard, worker_groups). Parse reads YAML or
// JSON; LoadFile reads a file and records its folder in Config.BaseDir.
// Both reject the whole document at once: a *ConfigError lists every
// problem, one "path: message" per line, where path is like
// "applications[0].deployments[1].max_ongoing_requests" and the message says
// what is allowed and what was given. Unknown fields are problems (each with
// its path and the fields allowed there), so are values of the wrong type,
// and so are Ray-only fields Gantry cannot honour (import_path, runtime_env,
// args, grpc_servicer_functions), with a message saying what to use instead.
// Validate runs the value checks alone, e.g. on a Config built in code.
//
// A parsed Config is kept as written. Defaults are applied when reading it:
// Config.Specs returns one DeploymentSpec per deployment with every default
// applied, replica commands resolved ("gantry" to the running executable,
// relative paths against BaseDir) and a CodeVersion that changes exactly
// when replicas must be replaced rather than reconfigured in place; the
// listener methods (HTTPAddr, GRPCAddr, DashboardAddr, KeepAliveTimeout,
// MaxRequestBodyBytes, MaxHeaderBytes) return the effective settings.
//
// # Controller and backends
//
// The controller compares the desired deployments with the replicas it
// observes, drives rollouts and reports status; it never speaks HTTP to
// clients. It starts replicas through a Backend: child processes in package
// deploy/local, pods in deploy/kubernetes (the only package that imports
// client-go). A Backend knows nothing of routing or health; the controller
// owns both.
//
// Backends whose replicas live elsewhere implement optional interfaces: a
// PlacedInstance waits to be placed (a pod waiting for a node and an IP) and
// says why (the controller shows the replica PENDING with that reason), and
// an Adopter lists the replicas that exist, which outlive the gateway. With
// an Adopter the controller adopts existing replicas when it becomes the
// leader, and while it follows (SetLeader(false), Options.Follower) it only
// mirrors them into its router pools, never starting or stopping one.
// Options.Detach leaves replicas running when Run ends.
package deploy

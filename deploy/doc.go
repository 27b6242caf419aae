// Package deploy is Gantry's controller: it makes the replicas it observes
// match a config, and defines the Backend interface that starts replicas.
// The config itself (schema, defaults, validation, loading and the
// per-deployment specs) is package deploy/config; the controller takes a
// *config.Config and reads it through config.Config.Specs.
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
// Options.Detach leaves replicas running when Run ends. Store keeps the
// applied config in the state dir (applied.json) so a restarted gateway
// brings its applications back; Slices allocates the slices of worker
// groups to replicas, and TPUEnv gives each member its TPU environment.
// The control loop records what it does and sees in an EventLog (the last
// 1000 events: configs applied, replicas starting, healthy, draining,
// stopped, crashed with their exit code, failing health checks, scale
// decisions with their reason), which the dashboard reads and follows. An
// Instance that also implements LogFollower lets readers follow its log.
package deploy

// Package deploy is Gantry's controller: it makes the replicas it observes
// match a config, and defines the Backend interface that starts replicas.
// The config itself (schema, defaults, validation, loading and the
// per-deployment specs) is package deploy/config; the controller takes a
// *config.Config and reads it through config.Config.Specs.
//
// # The control loop
//
// One goroutine, Run, owns all of the controller's state and reconciles
// level-triggered: on every pass (a config applied, a supervisor's report,
// a request queued, or every 100 ms of its Clock)
// it compares the desired deployments with the replicas it observes and
// acts: starts replicas (at most a fifth more than the target, at least one,
// while a code change rolls out), adds them to the router's pool after their
// first healthy check, reconfigures them in place when only user_config
// changed, drains and stops old ones only while the serving ones stay at the
// target, restarts crashed ones after a backoff (0.5 s doubling to 10 s), and
// gives up (DEPLOY_FAILED) after a run of replicas failing before they are
// healthy, leaving the old version serving. A failure's event says what
// follows: the next start after the backoff, or that none will come (the
// deployment is DEPLOY_FAILED, being deleted, or keeps its target without
// it). Replica lifecycles (start, wait
// for the first healthy check, health watch, drain and stop) run in
// supervisor goroutines that report back through events. Run ends by
// stopping every replica and waiting for every goroutine it started.
//
// On every pass the controller also tells each deployment's router whether
// a replica may come (router.Deployment.SetUnavailable, availability.go):
// when none serves, starts or waits for a slice, and none will start — the
// deployment is DEPLOY_FAILED, has num_replicas: 0 without
// autoscaling_config, or is being deleted — requests fail at once with 503
// and that reason instead of queueing until request_timeout_s. A crashed
// replica awaiting its backoff, or a deployment that scales from zero on
// the request, keeps requests queueing.
//
// Everything the controller times goes through Options.Clock: the loop's
// passes, the backoff, the autoscaler's delays, the waits between health
// checks and the router replicas' wake-up timers, so tests drive time. The controller's unit tests run it on a fake
// Backend and a fake clock; end-to-end tests with real processes are in
// serve and cmd/gantry.
//
// # Status
//
// Readers (the REST API, the CLI through it, the dashboard, metrics) get a
// Snapshot: a plain immutable value, published through an atomic pointer and
// rebuilt only when the loop's state changed, so reading it takes no lock
// and two reads with no change in between return the same pointer. It holds
// no live object; what changes with every request (queued and in-flight
// requests, request counters) is read from the router with Traffic, and a
// replica's output with ReplicaLog. A deployment is seen from four sides,
// each with its own type: config.Deployment (as written), deploymentRun (the
// controller's record), DeploymentStatus (in a Snapshot) and
// router.Deployment (its pool and queue). Status messages say what went
// wrong in the user's terms: a replica that exited says with what exit
// status, with its last log lines.
//
// # Python applications
//
// An application with import_path has no replica blocks: the controller
// imports its code through a GraphBuilder (PythonBuilder runs `python -m
// gantry_serve.build`; a fake in unit tests; NoPython on Kubernetes) in a
// goroutine on every config applied, since the code in working_dir may
// change while the config does not, and turns each deployment of the graph
// into a Gantry deployment running `python -m gantry_serve.replica
// IMPORT_PATH NAME`, its options from code under the config's overrides
// (python.go, pythonbuild.go). The working_dir's hash is in the replicas'
// environment (GANTRY_WORKING_DIR_HASH), so new code rolls out like any
// code change. Until the first build the application is DEPLOYING; a
// failed build is DEPLOY_FAILED with the builder's message while the last
// good build keeps serving. Options.ReplicaEnv (the handle endpoint's
// address and token) reaches every replica without being part of its code
// version.
//
// # Backends
//
// The controller starts replicas through a Backend: child processes in
// package deploy/local, pods in deploy/kubernetes (the only package that
// imports client-go). A Backend knows nothing of routing or health; the
// controller owns both, and never speaks HTTP to clients.
//
// Backends whose replicas live elsewhere implement optional interfaces: a
// PlacedInstance waits to be placed (a pod waiting for a node and an IP) and
// says why (the controller shows the replica PENDING with that reason), and
// an Adopter lists the replicas that exist, which outlive the gateway. With
// an Adopter the controller adopts existing replicas when it becomes the
// leader, and while it follows (SetLeader(false), Options.Follower) it only
// mirrors them into its router pools, never starting or stopping one.
// Options.Detach leaves replicas running when Run ends. Store keeps the
// applied config in the state dir (applied.json: compact JSON, one
// application per line, so its size is linear in the config's) so a
// restarted gateway brings its applications back (Restore); Slices allocates the slices of
// worker groups to replicas (a replica without a free slice waits PENDING,
// and a code change on a group with no spare slice replaces replicas in
// place, one slice at a time), and TPUEnv gives each member its TPU
// environment.
//
// The control loop records what it does and sees in an EventLog (the last
// 1000 events: configs applied, replicas starting, healthy, draining,
// stopped, crashed with their exit code, failing health checks, scale
// decisions with their reason), which the dashboard reads and follows. An
// Instance that also implements LogFollower lets readers follow its log.
package deploy

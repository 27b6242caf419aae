// Package replica is everything about one replica that does not depend on
// applications: its lifecycle states (Ray Serve's enum plus PENDING), health
// checks over the replica protocol, restart backoff, and the Go SDK for
// writing replicas (Serve, FromEnv).
//
// The replica protocol: Gantry starts the replica with PORT and the
// GANTRY_* variables; the replica serves HTTP on 127.0.0.1:$PORT, answers
// GET /-/healthz with 200 when healthy (the first 200 makes it RUNNING),
// accepts POST /-/reconfigure with its new user_config, may answer 503 with
// Gantry-Rejected: 1 before doing any work to have the request retried
// elsewhere, and treats SIGTERM as "finish what you have, then exit".
//
// A replica with protocol grpc serves gRPC on $PORT instead and is checked
// with grpc.health.v1 (GRPCProber, behind the Prober interface).
package replica

// Package serve assembles a Gantry gateway: the HTTP ingress (port 8000)
// and the admin listener (port 8265: Ray's dashboard Serve API under
// /api/serve/ and /api/ray/version, Gantry's richer view under
// /api/gantry/, /metrics and pprof), serving a router, a controller and a
// Prometheus registry that the caller builds. The admin API starts
// processes: it binds to loopback unless given a token, and then every
// mutating call needs it.
//
// NewGateway builds a gateway's components from explicit parts (cmd/gantry
// and the tests both use it): the registry, the router, the controller on
// the caller's backend, and the Server. Gateway.Run runs them, and any
// Alongside components (the Kubernetes pod cache, watcher and election), in
// one errgroup. On shutdown the Server stops accepting and waits for
// in-flight requests to finish, and only then does the controller drain and
// stop the replicas, so a SIGTERM loses no request.
//
// The ingress answers the gateway's own paths (/-/healthz, /-/routes, and
// the Open Inference Protocol's REST paths under /v2/) before any route
// prefix, sets X-Request-ID and traceparent, limits body and header sizes,
// and hands the request to the route's router.Deployment. With a
// TracerProvider it starts the ingress span (a child of the client's
// traceparent); with an access log it writes a line per routed request,
// buffered and flushed a few times a second.
//
// The gRPC ingress (port 9000) serves inference.GRPCInferenceService (a
// model is an application, or application/deployment), grpc.health.v1 for
// the gateway and each application, and reflection; a call of any other
// service is passed undecoded to the application its "application"
// metadata names (or the only one), through router.Deployment.Proxy. Run
// stops it with GracefulStop in the same ordered shutdown. See docs/grpc.md.
//
// The web dashboard (serve/dashboard, embedded) is served at / on the admin
// listener with relative URLs only, so it works under a path prefix. The
// endpoints behind it live under /api/gantry/: the controller's events, a
// 15-minute time series sampled once a second by Sampler (run by Server.Run),
// replica logs, TPU slices, config validation, and /api/gantry/try/, which
// hands a request to the ingress in-process.
package serve

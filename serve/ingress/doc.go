// Package ingress is the gateway's data plane: Server binds the HTTP
// ingress (port 8000) and the gRPC ingress (port 9000) and routes every
// request through the router.Router it is given.
//
// The HTTP ingress answers the gateway's own paths (/-/healthz, /-/routes,
// and the Open Inference Protocol's REST paths under /v2/) before any route
// prefix, sets X-Request-ID and traceparent, limits body and header sizes,
// and hands the request to the route's router.Deployment. With a
// TracerProvider it starts the ingress span (a child of the client's
// traceparent; TracingFromEnv builds one from the OTEL_* variables); with
// an access log it writes a line per routed request, buffered and flushed
// a few times a second.
//
// The gRPC ingress serves inference.GRPCInferenceService (a model is an
// application, or application/deployment), grpc.health.v1 for the gateway
// and each application, and reflection; a call of any other service is
// passed undecoded to the application its "application" metadata names
// (or the only one), through router.Deployment.Proxy. See docs/grpc.md.
//
// Limits on one client (docs/limits.md) live here: request heads read
// within read_header_timeout_s; bodies and responses held to their minimum
// rates through deadlines on the client's connection (pace.go: a slow body
// is answered 408, a client that does not read is cut and recorded 499,
// both client faults for the router); bodies bounded by
// max_request_body_bytes, and /v2 REST bodies for gRPC replicas by
// max_infer_body_bytes (413 naming the field); each port's connections
// capped (connections.go, on internal/connlimit), with a reserve on the
// HTTP port that serves only /-/ paths; gRPC messages and streams per
// connection bounded by grpc_options.
//
// Server.Run serves until its context ends, then drains: health checks
// fail (Draining), the listeners stop accepting, the requests and calls in
// flight finish (up to DrainTimeout; gRPC with GracefulStop), and their
// access log lines are written. The router's replicas must keep serving
// until Run returns: the caller stops the controller after it.
package ingress

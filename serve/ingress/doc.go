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
// Server.Run serves until its context ends, then drains: health checks
// fail (Draining), the listeners stop accepting, the requests and calls in
// flight finish (up to DrainTimeout; gRPC with GracefulStop), and their
// access log lines are written. The router's replicas must keep serving
// until Run returns: the caller stops the controller after it.
package ingress

// Package serve assembles a Gantry gateway: the controller, the HTTP
// ingress (port 8000) and the admin listener (port 8265: /metrics, pprof,
// later the REST API and dashboard).
//
// Server.Run owns every component's goroutine. On shutdown it stops the
// ingress from accepting, waits for in-flight requests to finish, and only
// then has the controller drain and stop the replicas, so a SIGTERM loses
// no request.
//
// The ingress answers the gateway's own paths (/-/healthz, /-/routes; /v2/ is
// reserved for the Open Inference Protocol) before any route prefix, sets
// X-Request-ID and traceparent, limits body and header sizes, and hands the
// request to the route's router.Deployment.
package serve

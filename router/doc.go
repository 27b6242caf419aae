// Package router moves requests from the ingress to replicas.
//
// The controller builds the slow-path state — a Table of routes, a
// Deployment per deployment with its replica pool — and publishes it; the
// request path reads it with one atomic load and takes no lock unless it has
// to queue.
//
// Per request: Table.Match finds the route by longest prefix;
// Deployment.Acquire picks a replica with power-of-two-choices among those
// below max_ongoing_requests (or waits in a bounded FIFO queue, dispatched the
// moment a slot frees); Deployment.ServeHTTP forwards, retrying on another
// replica only where it is safe (dial errors, Gantry-Rejected answers, and
// idempotent requests whose replica died before answering); Release returns
// the slot. An idempotent request whose pooled keep-alive connection the
// replica had closed goes once more on a fresh connection to the same
// replica without spending an attempt, as http.Transport does. A replica that keeps failing trips its circuit breaker and is
// skipped until a probe request succeeds.
//
// Outcomes map to status codes: 503 no capacity (queue full), 502 replica
// failed, 504 request_timeout_s exceeded before the response started, 499
// client gone (not counted against the replica).
//
// Every answered request is counted in the deployment's Stats (atomic
// counters and a latency histogram) for the dashboard. When the request's
// context carries a recording span, Forward adds a span for the wait for a
// replica and one per attempt, and the replica's traceparent names the
// attempt span; otherwise no span is started.
// gRPC goes through the same acquire, queue, retry and breaker rules:
// Deployment.Infer and InferFrame run Open Inference Protocol inferences
// (gRPC to replicas with protocol grpc, REST v2 to HTTP replicas) and
// Deployment.Proxy passes any other gRPC call through as raw frames (Codec).
// Their outcomes are gRPC codes: RESOURCE_EXHAUSTED (queue full),
// DEADLINE_EXCEEDED (request_timeout_s), UNAVAILABLE (replica failed); the
// metrics count them by the HTTP code they correspond to.
package router

// Package router moves requests from the ingress to replicas.
//
// The controller builds the slow-path state — a Table of routes, a
// Deployment per deployment with its replica pool — and publishes it; the
// request path reads it with one atomic load and takes no lock unless it has
// to queue.
//
// Per request: Table.Match finds the route by longest prefix; the request
// then makes one call through the attempt engine (attempt.go), whatever its
// protocol. The engine, in the shape of gRPC-Go's picker and Done, owns:
// request_timeout_s (a timer, not a deadline, so the replica does not see
// it); acquiring a slot (Deployment.Acquire: power-of-two-choices among the
// replicas below max_ongoing_requests, skipping those already tried, or a
// bounded FIFO queue dispatched the moment a replica can take a request:
// a slot frees, a replica joins the pool, the settings change, or a replica
// that was out of picking comes back — its breaker's open period or its
// refused-connection mark ends, which the replica learns from a timer of
// its own, stopped by Close); the queue and
// attempt spans; the verdict on each attempt; the circuit breakers; retries
// and their metric; Release; and the request's metrics. An attempt's
// verdict is one of: the replica answered (its breaker counts a success);
// the replica failed (counts against its breaker; retried on another
// replica only where safe: dial errors, and idempotent requests whose body
// can be sent again); the replica rejected it (Gantry-Rejected: retried
// elsewhere, not counted); the client failed — it left, or its body is
// malformed (never counts against the replica, its breaker or the retry
// budget); the timeout ran out; the queue was full; no replica will come
// (SetUnavailable). Each protocol supplies only how to send one attempt
// and how to answer the final verdict.
//
// A deployment that will have no replica soon — the controller says so
// with SetUnavailable(reason) when it failed (DEPLOY_FAILED) with none left,
// or has none by config — does not queue: a request that finds no free
// replica, and every request already waiting, is answered at once with 503,
// Retry-After and the reason (UNAVAILABLE with the reason over gRPC). The
// reason is read with one atomic load, only when no replica is free.
//
// Outcomes map to status codes: 503 no capacity (queue full, or no replica
// and none coming), 502 replica
// failed, 504 request_timeout_s exceeded before the response started, 499
// client gone (not counted against the replica). 499 is recorded only when
// a write to the client failed or the client left before the response was
// complete: a response written whole keeps its status even if the client
// closed its connection at once.
//
// The files, one concept each:
//
//	attempt.go        the engine: call, verdicts, breaker and retry accounting
//	p2c.go            power-of-two-choices replica picking
//	deployment.go     a deployment's pool, settings, Acquire/Release and queue
//	replica.go        one replica: slots, draining, its connections
//	breaker.go        the lock-free circuit breaker wrapper (its openings are
//	                  counted in gantry_breaker_trips_total)
//	wake.go           a replica's timer for when it is back in picking
//	forward.go        HTTP: Forward, the response copy, HTTP statuses
//	head.go, body.go  HTTP: the request as the replica sees it; its body
//	conn.go           HTTP: pooled replica connections, stale-connection retry
//	grpc.go           Infer and the unary gRPC part; gRPC statuses
//	grpc_raw.go       InferFrame: inference requests passed through undecoded
//	grpc_proxy.go     Proxy: any gRPC call passed through as raw frames
//	grpc_metadata.go  ModelMetadata
//	rest_infer.go     InferREST: OIP REST inferences, passed through to HTTP
//	                  replicas, translated (package oip) for gRPC ones
//	grpc_rest.go      the REST v2 leg of gRPC inferences to HTTP replicas
//	grpc_codec.go, grpc_replica.go  the raw-frame codec; a replica's gRPC conn
//	call.go           Call: handle calls from Python replicas, to /-/gantry/call
//	multiplex.go      multiplexed models: per-replica loaded sets, preferring them
//	table.go, names.go the route table and model names
//	metrics.go, stats.go, tracing.go, trace.go  observability
//
// An idempotent request whose pooled keep-alive connection the replica had
// closed goes once more on a fresh connection to the same replica without
// spending an attempt, as http.Transport does.
//
// Every answered request is counted in the deployment's Stats (atomic
// counters and a latency histogram) for the dashboard. When the request's
// context carries a recording span, the engine adds a span for the wait for
// a replica and one per attempt, and the replica's traceparent names the
// attempt span; otherwise no span is started.
//
// The client's body may fail with a BodyError (the ingress's limits: too
// slow, too large): the client's fault, answered with the error's status
// and message, and the connection closed. InferREST holds a body whole
// only for a gRPC replica, up to RESTInference.MaxBody (413 naming
// http_options.max_infer_body_bytes past it).
//
// The Open Inference Protocol is translated only where the client's wire
// and the replica's differ (the translation itself is package oip's):
// InferREST forwards a REST inference to an HTTP replica as it is, like
// Forward, and translates it for a gRPC replica; InferFrame passes a gRPC
// inference to a gRPC replica as raw frames and translates it to REST v2
// for an HTTP one.
//
// gRPC goes through the same engine: Deployment.Infer and InferFrame run
// Open Inference Protocol inferences (gRPC to replicas with protocol grpc,
// REST v2 to HTTP replicas), ModelMetadata asks for a model's tensors, and
// Deployment.Proxy passes any other gRPC call through as raw frames
// (Codec). Their outcomes are gRPC codes: RESOURCE_EXHAUSTED (queue full),
// DEADLINE_EXCEEDED (request_timeout_s), UNAVAILABLE (replica failed; or no
// replica and none coming, counted as 503),
// CANCELLED (client gone); the metrics count them by the HTTP code they
// correspond to.
//
// Handle calls (Deployment.Call) are HTTP requests from a Python replica
// to another deployment, through the gateway's handle endpoint: they take
// the same engine as ingress traffic and go to the replica's
// /-/gantry/call with their body and headers as they are (the caller's
// Authorization dropped). A user exception is the replica's 200 answer, so
// it never counts against the replica.
//
// Model multiplexing: every response's Gantry-Multiplexed-Models header
// (the replica's loaded model ids) is kept per replica (and not passed to
// the client); a request with serve_multiplexed_model_id goes to a replica
// that has that model loaded and a free slot (power of two choices among
// them), else is picked as any other. Replica.MultiplexedModelIDs reports
// the set.
//
// A new way in is a new protocol part:
// begin a call, pick, send one attempt, classify and done, and answer the
// verdict — see ModelMetadata (grpc_metadata.go) for one that sends an
// HTTP request and reads the response.
package router

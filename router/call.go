package router

import "net/http"

// Handle calls: a Python replica calls another deployment of its
// application through the gateway (DeploymentHandle.remote), so the call
// gets what ingress traffic gets — replica choice, max_ongoing_requests,
// the queue, request_timeout_s, retries where safe, breakers, metrics and
// tracing — from the one attempt engine. The call's body (the pickled
// arguments) and headers (Gantry-Method, Gantry-Stream,
// serve_multiplexed_model_id, traceparent) go to the replica's CallPath as
// they are, and its answer streams back unchanged. A user exception is the
// replica's 200 answer, so it never counts against the replica.

// CallPath is where a replica takes handle calls.
const CallPath = "/-/gantry/call"

// Call sends the handle call r to a replica of d's CallPath and copies the
// answer to w as it arrives; requestID is the replica's X-Request-ID. The
// caller's Authorization header is not passed on.
func (d *Deployment) Call(w http.ResponseWriter, r *http.Request, requestID string) {
	d.CallOutcome(w, r, requestID, nil)
}

// CallOutcome is Call that also reports what became of the call in out,
// when out is not nil.
func (d *Deployment) CallOutcome(w http.ResponseWriter, r *http.Request, requestID string, out *Outcome) {
	d.forwardHTTP(w, r, &forwarding{requestID: requestID, call: true}, out)
}

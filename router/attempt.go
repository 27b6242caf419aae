package router

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"syscall"
	"time"

	"go.opentelemetry.io/otel/trace"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/status"
)

// The attempt engine. Every way a request reaches a replica — Forward
// (HTTP), Infer and InferFrame (Open Inference Protocol), Proxy (any gRPC
// call), ModelMetadata — is one call through it, in the shape of gRPC-Go's
// picker and Done:
//
//	var c call
//	d.begin(&c, ctx)       // request_timeout_s starts, tracing is looked up
//	defer c.end()
//	for {
//		rep, err := c.pick()  // a slot on an untried replica, or the queue
//		...                   // on error: c.classify(nil, err), then answer it
//		err = send(rep)       // the protocol's part: one attempt
//		v := c.classify(rep, err)
//		if c.done(rep, v, code) { continue } // breaker, release, retry?
//		...                   // answer v in the protocol's terms
//	}
//	c.finish(code)         // the request's metrics
//
// The engine owns the timer, acquiring with the tried replicas skipped, the
// queue and attempt spans, what an attempt's result means (its fault),
// the breaker, the retry budget and its metric, and the release of the
// slot. The protocol's part is how to send one attempt and how to answer a
// final verdict: an HTTP status (httpFailure) or a gRPC status
// (grpcFailure).

// fault is what an attempt's result says about who is to blame.
type fault uint8

const (
	// noFault: the replica answered; its answer, whatever its status, is the
	// request's, and its breaker counts a success.
	noFault fault = iota
	// replicaFault: the replica failed (no connection, died, answered with
	// an internal error or a broken body). Counts against its breaker.
	replicaFault
	// rejected: the replica declined before doing any work (Gantry-Rejected).
	// It is shedding load as designed, so its breaker counts nothing.
	rejected
	// clientFault: the client left or sent what cannot be read or sent on.
	// Never counts against the replica, its breaker or the retry budget.
	clientFault
	// timedOut: request_timeout_s ran out before the response started.
	timedOut
	// queueFull: every replica was full and so was the queue.
	queueFull
	// unavailable: no replica was free and none will come soon (the
	// deployment failed, or has none by config: SetUnavailable).
	unavailable
)

// verdict is the classification of one attempt's result (or of a failure
// to get a replica at all).
type verdict struct {
	fault fault
	// retry is why the request may go again to another replica ("dial",
	// "rejected", "replica_failed"); "" when that would not be safe.
	retry string
	err   error
}

// clientError marks an error as the client's doing: a request that cannot
// be read or decoded. The protocol's part wraps such errors in it.
type clientError struct{ err error }

func (e *clientError) Error() string { return e.err.Error() }
func (e *clientError) Unwrap() error { return e.err }

// rejectedError is a replica's answer that it did no work and the request
// may go elsewhere.
type rejectedError struct{ replica string }

func (e *rejectedError) Error() string { return "replica " + e.replica + " rejected the request" }

var errRequestTimeout = errors.New("request_timeout_s exceeded")

// call is one request's way through the engine. It lives on its caller's
// stack; it is not safe for concurrent use.
type call struct {
	d        *Deployment
	settings *Settings
	caller   context.Context // the client's: ends when the client leaves
	// ctx is caller's, also ended by request_timeout_s; attempts run in it.
	// The timer cancels it, rather than a deadline, so that the replica
	// does not see request_timeout_s as its own deadline (it would race the
	// gateway to report it, and it should not bound a streaming response).
	ctx    context.Context
	cancel context.CancelCauseFunc
	timer  *time.Timer
	start  time.Time
	spans  spans
	span   trace.Span // the current attempt's; nil when not tracing
	skip   tried
	// attempts is how many attempts were started.
	attempts int
	// idempotent: the request may run twice; replayable: it can be sent
	// again (its body is at hand). A failed attempt is retried on another
	// replica after a dial error, a rejection (when replayable), or when
	// both hold.
	idempotent, replayable bool
	// traceparent is the trace context the replica sees: the attempt
	// span's when tracing, else the one the protocol part set.
	traceparent string
	out         *Outcome // nil: nobody asked
	// unavailable: the call was answered as unavailable (no replica, none
	// coming). Its gRPC UNAVAILABLE counts as 503, not as a replica's 502.
	unavailable bool
	// model is the multiplexed model the request is for; "" for none.
	model string
}

// begin starts a call of d on behalf of a client whose context is ctx.
func (d *Deployment) begin(c *call, ctx context.Context) {
	s := d.settings.Load()
	*c = call{d: d, settings: s, caller: ctx, ctx: ctx, start: time.Now(), spans: tracingFor(ctx)}
	if s.RequestTimeout > 0 {
		ctx, cancel := context.WithCancelCause(ctx)
		c.ctx, c.cancel = ctx, cancel
		c.timer = time.AfterFunc(s.RequestTimeout, func() { cancel(errRequestTimeout) })
	}
}

// end stops the timer; every begin is followed by one end.
func (c *call) end() {
	if c.timer != nil {
		c.timer.Stop()
		c.cancel(nil)
	}
}

// pick acquires a slot for the next attempt on a replica not yet tried
// (see Deployment.pickFor), waiting in the queue if need be, and starts the
// attempt's span. Its error is ErrQueueFull or the context's.
func (c *call) pick() (*Replica, error) {
	c.attempts++
	skip := &c.skip
	if c.attempts == 1 {
		skip = nil
	}
	qs := c.spans.queue(c.ctx, c.d, c.attempts)
	rep, err := c.d.acquire(c.ctx, skip, c.model)
	endQueue(qs, rep, err)
	if err != nil {
		return nil, err
	}
	c.skip.add(rep)
	c.span = c.spans.attempt(c.ctx, rep, c.attempts, &c.traceparent)
	if c.out != nil {
		c.out.Replica, c.out.Attempts, c.out.Traceparent = rep.id, c.attempts, c.traceparent
	}
	return rep, nil
}

// started is called when the replica's response starts: it disarms
// request_timeout_s. It reports false when the timer fired first, and the
// attempt is then a timeout.
func (c *call) started() bool { return c.timer == nil || c.timer.Stop() }

// classify says what err, from an attempt on rep (nil: from pick), means.
func (c *call) classify(rep *Replica, err error) verdict {
	v := verdict{err: err}
	switch {
	case c.ctx.Err() != nil:
		// Whatever the attempt said, it was cut by the gateway's timer or
		// by the client leaving.
		if errors.Is(context.Cause(c.ctx), errRequestTimeout) {
			v.fault = timedOut
		} else {
			v.fault = clientFault
		}
		return v
	case errors.Is(err, ErrQueueFull):
		v.fault = queueFull
		return v
	}
	if _, ok := errors.AsType[*UnavailableError](err); ok {
		v.fault = unavailable
		return v
	}
	if _, ok := errors.AsType[*clientError](err); ok {
		v.fault = clientFault
		return v
	}
	if _, ok := errors.AsType[*rejectedError](err); ok {
		v.fault = rejected
		if c.replayable {
			v.retry = "rejected"
		}
		return v
	}
	v.fault = replicaFault
	if isDialError(err) {
		v.retry = "dial"
		return v
	}
	if st, ok := status.FromError(err); ok {
		switch st.Code() {
		case codes.Unavailable:
			// UNAVAILABLE from a connection that is not up: the call was not sent.
			if rep != nil && rep.grpc != nil {
				if cc, _ := rep.grpc.conn(); cc != nil && cc.GetState() != connectivity.Ready {
					v.retry = "dial"
					return v
				}
			}
		case codes.Internal, codes.Unknown:
			return v // the replica broke, perhaps after doing the work: not retried
		default:
			v.fault = noFault // the replica's own answer
			return v
		}
	}
	if c.idempotent && c.replayable {
		v.retry = "replica_failed"
	}
	return v
}

// done ends the attempt on rep with verdict v (code is the replica's
// status, if it answered): it ends the attempt's span, tells rep's
// breaker, releases the slot, and reports whether the request goes again
// to another replica, counting the retry if so.
func (c *call) done(rep *Replica, v verdict, code int) (again bool) {
	var spanErr error
	if v.fault != noFault {
		spanErr = v.err
	}
	endAttempt(c.span, code, spanErr)
	c.span = nil
	switch v.fault {
	case noFault:
		rep.breaker.record(true)
	case replicaFault:
		rep.breaker.record(false)
		if errors.Is(v.err, syscall.ECONNREFUSED) {
			rep.markRefused()
		}
	}
	c.d.Release(rep)
	if c.again(v) {
		c.d.metrics.retried(v.retry)
		return true
	}
	return false
}

// again reports whether a request whose attempt came to v goes again.
func (c *call) again(v verdict) bool {
	return v.retry != "" && c.attempts < c.settings.MaxAttempts
}

// finish counts the request, answered with code, in the metrics.
func (c *call) finish(code int) { c.d.metrics.observe(code, time.Since(c.start)) }

// finishGRPC counts the request, answered with the gRPC status err, in the
// metrics by the HTTP code it corresponds to.
func (c *call) finishGRPC(err error) {
	code := httpCode(err)
	if c.unavailable {
		code = http.StatusServiceUnavailable
	}
	c.finish(code)
}

// tried is the set of replicas a request has already attempted.
type tried [4]*Replica

func (t *tried) has(r *Replica) bool {
	for _, x := range t {
		if x == r {
			return true
		}
	}
	return false
}

func (t *tried) add(r *Replica) {
	for i, x := range t {
		if x == nil {
			t[i] = r
			return
		}
	}
}

// unavailableRetryAfter is the Retry-After of an unavailable answer, in
// seconds: nothing changes until the deployment's config does, so clients
// should not come back at once.
const unavailableRetryAfter = "10"

// capacityText and timeoutText explain a queueFull and a timedOut verdict,
// in either protocol's answer.
func (c *call) capacityText() string {
	return "deployment " + c.d.app + "/" + c.d.name +
		" is at capacity: every replica has max_ongoing_requests in flight and max_queued_requests are waiting; retry later"
}

func (c *call) timeoutText() string {
	return "request timed out after request_timeout_s=" + strconv.FormatFloat(c.settings.RequestTimeout.Seconds(), 'g', -1, 64) + "s"
}

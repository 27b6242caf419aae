package router

import (
	"context"
	"errors"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/connectivity"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "gantry.dev/gantry/oip/inferencepb"
)

// RejectedMetadata is the trailer key with which a gRPC replica may answer
// UNAVAILABLE before doing any work, as HTTP replicas answer 503 with
// Gantry-Rejected: the router then retries on another replica.
const RejectedMetadata = "gantry-rejected"

const methodModelInfer = "/inference.GRPCInferenceService/ModelInfer"

// Infer runs one Open Inference Protocol inference on a replica of d, by
// the same rules as Forward: a slot under max_ongoing_requests or a place
// in the bounded queue, request_timeout_s, retries where safe, breakers and
// metrics. A gRPC replica gets the request as gRPC; an HTTP replica gets it
// as REST v2 (POST /v2/models/{m}/infer, binary tensors). Errors are gRPC
// statuses: RESOURCE_EXHAUSTED (queue full), DEADLINE_EXCEEDED
// (request_timeout_s), UNAVAILABLE (replica failed), or the replica's own.
// Incoming gRPC metadata on ctx is passed on to gRPC replicas.
func (d *Deployment) Infer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	start := time.Now()
	var resp *pb.ModelInferResponse
	err := d.attempts(ctx, func(ctx context.Context, rep *Replica) error {
		var err error
		if rep.grpc != nil {
			resp, err = rep.inferGRPC(ctx, req)
		} else {
			resp, err = rep.inferREST(ctx, req)
		}
		return err
	})
	d.metrics.observe(httpCode(err), time.Since(start))
	return resp, err
}

// attempts runs send on replicas of d until one succeeds, under the
// deployment's limits, queue, request_timeout_s and retry rules.
func (d *Deployment) attempts(callerCtx context.Context, send func(context.Context, *Replica) error) error {
	s := d.settings.Load()
	// A timer, not a deadline: the replica should not see request_timeout_s
	// as its own deadline (it would race the gateway to report it).
	ctx := callerCtx
	if s.RequestTimeout > 0 {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(callerCtx)
		defer cancel(nil)
		timer := time.AfterFunc(s.RequestTimeout, func() { cancel(errRequestTimeout) })
		defer timer.Stop()
	}
	ctx = outgoing(ctx)
	var skip tried
	for attempt := 1; ; attempt++ {
		var (
			rep *Replica
			err error
		)
		if attempt == 1 {
			rep, err = d.acquire(ctx, nil)
		} else {
			rep, err = d.acquire(ctx, &skip)
		}
		if err != nil {
			return d.grpcFailure(ctx, callerCtx, err)
		}
		skip.add(rep)
		err = send(ctx, rep)
		d.Release(rep)
		if err == nil {
			rep.breaker.record(true)
			return nil
		}
		if ctx.Err() != nil {
			return d.grpcFailure(ctx, callerCtx, ctx.Err())
		}
		reason, answered := rep.classify(err, s.Idempotent)
		rep.breaker.record(answered)
		if reason != "" && attempt < s.MaxAttempts {
			d.metrics.retried(reason)
			continue
		}
		if _, ok := status.FromError(err); ok {
			return err
		}
		return status.Errorf(codes.Unavailable, "replica %s failed: %v", rep.id, err)
	}
}

// classify says why a failed attempt may be retried ("" if it may not) and
// whether the replica answered (so its breaker counts a success).
func (r *Replica) classify(err error, idempotent bool) (reason string, answered bool) {
	if rej, ok := errors.AsType[*rejectedError](err); ok && rej != nil {
		return "rejected", true
	}
	if errors.Is(err, syscall.ECONNREFUSED) {
		r.markRefused()
	}
	if isDialError(err) {
		return "dial", false
	}
	st, ok := status.FromError(err)
	if !ok {
		if idempotent {
			return "replica_failed", false
		}
		return "", false
	}
	if st.Code() != codes.Unavailable {
		return "", st.Code() != codes.Internal && st.Code() != codes.Unknown
	}
	// UNAVAILABLE from a connection that is not up: the call was not sent.
	if r.grpc != nil {
		if cc, _ := r.grpc.conn(); cc != nil && cc.GetState() != connectivity.Ready {
			return "dial", false
		}
	}
	if idempotent {
		return "replica_failed", false
	}
	return "", false
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// rejectedError is a replica's answer that it did no work and the request
// may go elsewhere.
type rejectedError struct{ replica string }

func (e *rejectedError) Error() string { return "replica " + e.replica + " rejected the request" }

func (r *Replica) inferGRPC(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	resp := new(pb.ModelInferResponse)
	if err := r.invoke(ctx, methodModelInfer, req, resp); err != nil {
		return nil, err
	}
	return resp, nil
}

// invoke makes one unary call on a gRPC replica; a rejection becomes a
// *rejectedError.
func (r *Replica) invoke(ctx context.Context, method string, req, resp any, opts ...grpc.CallOption) error {
	cc, err := r.grpc.conn()
	if err != nil {
		return err
	}
	var trailer metadata.MD
	if err := cc.Invoke(ctx, method, req, resp, append(opts, grpc.Trailer(&trailer))...); err != nil {
		if status.Code(err) == codes.Unavailable && len(trailer.Get(RejectedMetadata)) > 0 {
			return &rejectedError{r.id}
		}
		return err
	}
	return nil
}

// grpcFailure maps an error from acquiring a replica or from a cancelled
// attempt to a gRPC status.
func (d *Deployment) grpcFailure(ctx, callerCtx context.Context, err error) error {
	switch {
	case errors.Is(err, ErrQueueFull):
		return status.Error(codes.ResourceExhausted, "deployment "+d.app+"/"+d.name+
			" is at capacity: every replica has max_ongoing_requests in flight and max_queued_requests are waiting; retry later")
	case errors.Is(context.Cause(ctx), errRequestTimeout):
		return status.Error(codes.DeadlineExceeded, "request timed out after request_timeout_s="+
			strconv.FormatFloat(d.settings.Load().RequestTimeout.Seconds(), 'g', -1, 64)+"s")
	case callerCtx.Err() != nil:
		return status.FromContextError(callerCtx.Err()).Err()
	default:
		return status.Error(codes.Unavailable, err.Error())
	}
}

// httpCode is the status code recorded in the metrics for a gRPC outcome,
// so one set of counters covers both protocols.
func httpCode(err error) int {
	switch status.Code(err) {
	case codes.OK:
		return 200
	case codes.ResourceExhausted:
		return 503
	case codes.DeadlineExceeded:
		return 504
	case codes.Unavailable:
		return 502
	case codes.Canceled:
		return StatusClientClosed
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		return 400
	case codes.NotFound:
		return 404
	case codes.Unimplemented:
		return 501
	default:
		return 500
	}
}

// outgoing passes the incoming gRPC metadata on, without the headers that
// belong to one hop.
func outgoing(ctx context.Context) context.Context {
	in, ok := metadata.FromIncomingContext(ctx)
	if !ok {
		return ctx
	}
	out := make(metadata.MD, len(in))
	for k, v := range in {
		if strings.HasPrefix(k, ":") || strings.HasPrefix(k, "grpc-") {
			continue
		}
		switch k {
		case "content-type", "user-agent", "te", "connection":
			continue
		}
		out[k] = v
	}
	return metadata.NewOutgoingContext(ctx, out)
}

package router

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "gantry.dev/gantry/oip/inferencepb"
)

// RejectedMetadata is the trailer key with which a gRPC replica may answer
// UNAVAILABLE before doing any work, as HTTP replicas answer 503 with
// Gantry-Rejected: the router then retries on another replica.
const RejectedMetadata = "gantry-rejected"

const methodModelInfer = "/inference.GRPCInferenceService/ModelInfer"

// Infer runs one Open Inference Protocol inference on a replica of d,
// through the same engine as Forward (attempt.go): a slot under max_ongoing_requests or a place
// in the bounded queue, request_timeout_s, retries where safe, breakers and
// metrics. A gRPC replica gets the request as gRPC; an HTTP replica gets it
// as REST v2 (POST /v2/models/{m}/infer, binary tensors). Errors are gRPC
// statuses: RESOURCE_EXHAUSTED (queue full), DEADLINE_EXCEEDED
// (request_timeout_s), UNAVAILABLE (replica failed, or no replica and none
// coming: see SetUnavailable), or the replica's own.
// Incoming gRPC metadata on ctx is passed on to gRPC replicas.
func (d *Deployment) Infer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	var resp *pb.ModelInferResponse
	err := d.unary(ctx, d.settings.Load().Idempotent, func(ctx context.Context, rep *Replica) error {
		var err error
		if rep.grpc != nil {
			resp, err = rep.inferGRPC(ctx, req)
		} else {
			resp, err = rep.inferREST(ctx, req)
		}
		return err
	})
	return resp, err
}

// unary runs one unary call through the engine (attempt.go): send makes
// one attempt on rep, in ctx (which carries the client's gRPC metadata
// on); it is retried on another replica where safe. The request counts as
// idempotent when the caller says so; its message is always at hand, so
// replayable. The error is a gRPC status.
func (d *Deployment) unary(ctx context.Context, idempotent bool, send func(context.Context, *Replica) error) error {
	var c call
	d.begin(&c, ctx)
	defer c.end()
	c.ctx = outgoing(c.ctx)
	c.idempotent, c.replayable = idempotent, true
	err := c.unary(send)
	c.finishGRPC(err)
	return err
}

func (c *call) unary(send func(context.Context, *Replica) error) error {
	for {
		rep, err := c.pick()
		if err != nil {
			return c.grpcFailure(nil, c.classify(nil, err))
		}
		err = send(c.ctx, rep)
		if err == nil {
			c.done(rep, verdict{}, http.StatusOK)
			return nil
		}
		v := c.classify(rep, err)
		if c.done(rep, v, 0) {
			continue
		}
		return c.grpcFailure(rep, v)
	}
}

// grpcFailure is the gRPC status for verdict v of a call's last attempt
// (on rep, if one was made).
func (c *call) grpcFailure(rep *Replica, v verdict) error {
	switch v.fault {
	case noFault:
		return v.err // the replica's own status
	case queueFull:
		return status.Error(codes.ResourceExhausted, c.capacityText())
	case unavailable:
		c.unavailable = true
		return status.Error(codes.Unavailable, v.err.Error())
	case timedOut:
		return status.Error(codes.DeadlineExceeded, c.timeoutText())
	case clientFault:
		if err := c.caller.Err(); err != nil {
			return status.FromContextError(err).Err()
		}
		if st, ok := status.FromError(v.err); ok {
			return st.Err()
		}
		return status.Error(codes.InvalidArgument, v.err.Error())
	}
	if _, ok := status.FromError(v.err); ok {
		return v.err
	}
	if rep == nil {
		return status.Error(codes.Unavailable, v.err.Error())
	}
	return status.Errorf(codes.Unavailable, "replica %s failed: %v", rep.id, v.err)
}

func isDialError(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

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

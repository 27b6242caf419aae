package ingress

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// grpcTimeout bounds every call on the gRPC port by
// grpc_options.request_timeout_s, on top of the deployment's own
// request_timeout_s and the client's deadline.
type grpcTimeout time.Duration

func (d grpcTimeout) err() error {
	return status.Error(codes.DeadlineExceeded, "request timed out after grpc_options.request_timeout_s="+
		strconv.FormatFloat(time.Duration(d).Seconds(), 'g', -1, 64)+"s")
}

// exempt are the gateway's own services, which the timeout does not bound
// (a health Watch lasts as long as its client wants).
func exempt(method string) bool {
	return strings.HasPrefix(method, "/grpc.health.v1.") || strings.HasPrefix(method, "/grpc.reflection.")
}

func (d grpcTimeout) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if exempt(info.FullMethod) {
		return h(ctx, req)
	}
	ctx, stop := d.bound(ctx)
	defer stop()
	resp, err := h(ctx, req)
	if err != nil && errors.Is(context.Cause(ctx), errGRPCTimeout) {
		return nil, d.err()
	}
	return resp, err
}

func (d grpcTimeout) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if exempt(info.FullMethod) {
		return h(srv, ss)
	}
	ctx, stop := d.bound(ss.Context())
	defer stop()
	err := h(srv, &timedStream{ServerStream: ss, ctx: ctx})
	if err != nil && errors.Is(context.Cause(ctx), errGRPCTimeout) {
		return d.err()
	}
	return err
}

var errGRPCTimeout = errors.New("grpc_options.request_timeout_s exceeded")

// bound cancels ctx after d. A timer rather than a deadline: a deadline
// would travel to the replica (rounded down), which would then race the
// gateway to report it.
func (d grpcTimeout) bound(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	t := time.AfterFunc(time.Duration(d), func() { cancel(errGRPCTimeout) })
	return ctx, func() { t.Stop(); cancel(nil) }
}

type timedStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *timedStream) Context() context.Context { return s.ctx }

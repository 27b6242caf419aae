package router

import (
	"context"
	"errors"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Proxy passes one gRPC call of any method, unary or streaming either way,
// to a gRPC replica of d without decoding it: messages as raw frames (the
// server must use Codec), metadata in, headers and trailers and the status
// back. The call holds a replica slot until it ends; request_timeout_s
// bounds the wait for a slot and for the replica's response headers.
func (d *Deployment) Proxy(stream grpc.ServerStream, method string) error {
	start := time.Now()
	err := d.proxy(stream, method)
	d.metrics.observe(httpCode(err), time.Since(start))
	return err
}

var streamDesc = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

func (d *Deployment) proxy(stream grpc.ServerStream, method string) error {
	callerCtx := stream.Context()
	s := d.settings.Load()
	waitCtx := callerCtx
	var stopTimer func() bool
	ctx, cancel := context.WithCancelCause(callerCtx)
	defer cancel(nil)
	if s.RequestTimeout > 0 {
		t := time.AfterFunc(s.RequestTimeout, func() { cancel(errRequestTimeout) })
		stopTimer = t.Stop
		defer t.Stop()
		waitCtx = ctx
	}
	rep, err := d.acquire(waitCtx, nil)
	if err != nil {
		return d.grpcFailure(ctx, callerCtx, err)
	}
	defer d.Release(rep)
	if rep.grpc == nil {
		return status.Errorf(codes.Unimplemented, "method %s: deployment %s/%s serves HTTP (replica.protocol: http); only gRPC replicas take arbitrary gRPC calls", method, d.app, d.name)
	}
	cc, err := rep.grpc.conn()
	if err != nil {
		return status.Error(codes.Unavailable, err.Error())
	}
	out, err := cc.NewStream(outgoing(ctx), streamDesc, method, grpc.ForceCodecV2(Codec{}))
	if err != nil {
		rep.breaker.record(false)
		return d.streamError(ctx, callerCtx, err)
	}

	// Client to replica, until the client half-closes or the call ends.
	// The goroutine ends with the call: RecvMsg returns once the handler
	// has returned, and SendMsg once ctx is cancelled.
	go func() {
		for {
			f := new(Frame)
			if err := stream.RecvMsg(f); err != nil {
				if errors.Is(err, io.EOF) {
					out.CloseSend()
				} else {
					cancel(err)
				}
				return
			}
			if err := out.SendMsg(f); err != nil {
				return // the replica ended the call; its status comes from RecvMsg
			}
		}
	}()

	// Replica to client.
	header, err := out.Header()
	if err != nil {
		rep.breaker.record(false)
		return d.streamError(ctx, callerCtx, err)
	}
	if stopTimer != nil && !stopTimer() {
		return d.grpcFailure(ctx, callerCtx, context.Cause(ctx))
	}
	rep.breaker.record(true)
	if len(header) > 0 {
		if err := stream.SendHeader(header); err != nil {
			return err
		}
	}
	for {
		f := new(Frame)
		if err := out.RecvMsg(f); err != nil {
			stream.SetTrailer(out.Trailer())
			if errors.Is(err, io.EOF) {
				return nil
			}
			return d.streamError(ctx, callerCtx, err)
		}
		if err := stream.SendMsg(f); err != nil {
			return err
		}
	}
}

// streamError is the status for a proxied call that failed: the gateway's
// own reason when the call was cut by the timeout or the client, else the
// replica's status as it is.
func (d *Deployment) streamError(ctx, callerCtx context.Context, err error) error {
	if ctx.Err() != nil {
		return d.grpcFailure(ctx, callerCtx, ctx.Err())
	}
	return err
}

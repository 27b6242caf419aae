package router

import (
	"context"
	"errors"
	"io"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Proxy passes one gRPC call of any method, unary or streaming either way,
// to a gRPC replica of d without decoding it: messages as raw frames (the
// server must use Codec), metadata in, headers and trailers and the status
// back. It goes through the same engine as Forward (attempt.go): the call
// holds a replica slot until it ends; request_timeout_s bounds the wait for
// a slot and for the replica's response headers; a replica that cannot be
// reached before any message was sent is replaced by another.
func (d *Deployment) Proxy(stream grpc.ServerStream, method string) error {
	var c call
	d.begin(&c, stream.Context())
	defer c.end()
	err := c.proxy(stream, method)
	c.finishGRPC(err)
	return err
}

var streamDesc = &grpc.StreamDesc{ServerStreams: true, ClientStreams: true}

func (c *call) proxy(stream grpc.ServerStream, method string) error {
	// The call's own cancel: a client that breaks its half of the stream
	// ends the call, and the verdict is then the client's fault.
	ctx, cancel := context.WithCancelCause(c.ctx)
	defer cancel(nil)
	c.ctx = ctx
	c.idempotent = c.settings.Idempotent
	c.replayable = true // until the first message is read from the client
	var (
		rep *Replica
		out grpc.ClientStream
	)
	for out == nil {
		var err error
		if rep, err = c.pick(); err != nil {
			return c.grpcFailure(nil, c.classify(nil, err))
		}
		if rep.grpc == nil {
			c.done(rep, verdict{fault: clientFault}, 0)
			return status.Errorf(codes.Unimplemented, "method %s: deployment %s/%s serves HTTP (replica.protocol: http); only gRPC replicas take arbitrary gRPC calls", method, c.d.app, c.d.name)
		}
		cc, err := rep.grpc.conn()
		if err == nil {
			out, err = cc.NewStream(outgoing(ctx), streamDesc, method, grpc.ForceCodecV2(Codec{}))
		}
		if err != nil {
			v := c.classify(rep, err)
			if c.done(rep, v, 0) {
				continue
			}
			return c.grpcFailure(rep, v)
		}
	}
	c.replayable = false

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
					cancel(&clientError{err})
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
		return c.streamEnd(rep, err)
	}
	if !c.started() {
		v := verdict{fault: timedOut, err: context.Cause(ctx)}
		c.done(rep, v, 0)
		return c.grpcFailure(rep, v)
	}
	if len(header) > 0 {
		if err := stream.SendHeader(header); err != nil {
			return c.streamEnd(rep, &clientError{err})
		}
	}
	for {
		f := new(Frame)
		if err := out.RecvMsg(f); err != nil {
			stream.SetTrailer(out.Trailer())
			if errors.Is(err, io.EOF) {
				c.done(rep, verdict{}, 0)
				return nil
			}
			return c.streamEnd(rep, err)
		}
		if err := stream.SendMsg(f); err != nil {
			return c.streamEnd(rep, &clientError{err})
		}
	}
}

// streamEnd ends a proxied call that failed once messages may have flowed
// (so it is not retried): the gateway's own status when the timeout or the
// client cut it, else the replica's status as it is.
func (c *call) streamEnd(rep *Replica, err error) error {
	v := c.classify(rep, err)
	v.retry = ""
	c.done(rep, v, 0)
	return c.grpcFailure(rep, v)
}

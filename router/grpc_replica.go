package router

import (
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/keepalive"
)

// MaxGRPCMessage bounds one gRPC message (and one translated REST v2 body)
// in either direction.
const MaxGRPCMessage = 64 << 20

// grpcConn is a replica's gRPC client connection, created on first use.
type grpcConn struct {
	addr        string
	dialTimeout time.Duration
	once        sync.Once
	cc          *grpc.ClientConn
	err         error
}

func newGRPCConn(addr string, dialTimeout time.Duration) *grpcConn {
	return &grpcConn{addr: addr, dialTimeout: dialTimeout}
}

// conn returns the connection; the first call creates it (grpc.NewClient
// connects in the background, so this does not block on the network).
func (g *grpcConn) conn() (*grpc.ClientConn, error) {
	g.once.Do(func() {
		g.cc, g.err = grpc.NewClient("passthrough:///"+g.addr,
			grpc.WithTransportCredentials(insecure.NewCredentials()),
			grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(MaxGRPCMessage), grpc.MaxCallSendMsgSize(MaxGRPCMessage)),
			grpc.WithConnectParams(grpc.ConnectParams{Backoff: backoff.Config{
				BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second,
			}, MinConnectTimeout: g.dialTimeout}),
			grpc.WithKeepaliveParams(keepalive.ClientParameters{Time: time.Minute, Timeout: 20 * time.Second}),
			grpc.WithInitialWindowSize(1<<20), grpc.WithInitialConnWindowSize(4<<20),
		)
	})
	return g.cc, g.err
}

func (g *grpcConn) close() {
	if g == nil {
		return
	}
	g.once.Do(func() {}) // no connection after this
	if g.cc != nil {
		g.cc.Close()
	}
}

// GRPC reports whether the replica speaks gRPC.
func (r *Replica) GRPC() bool { return r.grpc != nil }

package replica

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// Prober sends one health probe to the replica at addr (host:port) and
// returns nil if it is healthy. It is called concurrently for many
// replicas; ctx carries the probe's timeout.
type Prober interface {
	Probe(ctx context.Context, addr string) error
}

// GRPCProber probes a gRPC replica with grpc.health.v1 Check: healthy when
// it answers SERVING for Service ("" is the whole server).
type GRPCProber struct {
	Service string
}

// Probe implements Prober. It opens a connection per probe: probes are
// seconds apart, and a fresh connection also checks that the replica
// still accepts them.
func (p GRPCProber) Probe(ctx context.Context, addr string) error {
	cc, err := grpc.NewClient("passthrough:///"+addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		return fmt.Errorf("health check grpc %s: %w", addr, err)
	}
	defer cc.Close()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{Service: p.Service}, grpc.WaitForReady(true))
	if err != nil {
		if st, ok := status.FromError(err); ok {
			return fmt.Errorf("health check grpc.health.v1 %s: %s: %s", addr, st.Code(), st.Message())
		}
		return fmt.Errorf("health check grpc.health.v1 %s: %w", addr, err)
	}
	if s := resp.GetStatus(); s != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("health check grpc.health.v1 %s: status %s", addr, s)
	}
	return nil
}

// probeWith runs c.Prober under c.Timeout.
func (c *Checker) probeWith(ctx context.Context, addr string) error {
	timeout := durationOr(c.Timeout, DefaultHealthCheckTimeout)
	probeCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := c.Prober.Probe(probeCtx, addr)
	if err != nil && ctx.Err() == nil && errors.Is(probeCtx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%w (no answer within %v): %w", err, timeout, context.DeadlineExceeded)
	}
	return err
}

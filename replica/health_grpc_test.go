package replica

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// GRPCProber against a real grpc.health.v1 server on a real socket.
func TestGRPCProberFollowsTheServingStatus(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	h := health.NewServer()
	healthpb.RegisterHealthServer(srv, h)
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)
	c := &Checker{Prober: GRPCProber{}, Timeout: 2 * time.Second}
	addr := ln.Addr().String()

	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	if err := c.Probe(context.Background(), addr); err != nil {
		t.Fatalf("SERVING replica: %v", err)
	}
	h.SetServingStatus("", healthpb.HealthCheckResponse_NOT_SERVING)
	if err := c.Probe(context.Background(), addr); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Fatalf("NOT_SERVING replica: %v, want an error saying NOT_SERVING", err)
	}
	srv.Stop()
	c.Timeout = 300 * time.Millisecond
	if err := c.Probe(context.Background(), addr); err == nil {
		t.Fatal("a stopped replica passed its health check")
	}
}

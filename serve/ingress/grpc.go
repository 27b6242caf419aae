package ingress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sort"
	"strings"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/grpc/status"

	"gantry.dev/gantry/router"
)

// ApplicationMetadata is the gRPC metadata key that names the application
// a call is for (Ray Serve's convention). Without it, a call goes to the
// only application when there is one.
const ApplicationMetadata = "application"

// newGRPCServer builds the gateway's gRPC ingress: the Open Inference
// Protocol, grpc.health.v1 and reflection for the gateway's own services,
// and every other method passed through to a gRPC replica undecoded.
func newGRPCServer(rt *router.Router, draining *atomic.Bool, lim grpcLimits) *grpc.Server {
	timeout := lim.timeout
	opts := []grpc.ServerOption{
		grpc.ForceServerCodecV2(router.Codec{}),
		grpc.UnknownServiceHandler(proxyHandler(rt)),
		grpc.MaxRecvMsgSize(lim.maxRecv),
		grpc.MaxSendMsgSize(router.MaxGRPCMessage),
		grpc.MaxConcurrentStreams(uint32(lim.maxStreams)),
		grpc.ConnectionTimeout(10 * time.Second),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: 10 * time.Second, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: 15 * time.Minute, Time: 2 * time.Minute, Timeout: 20 * time.Second}),
		grpc.InitialWindowSize(1 << 20), grpc.InitialConnWindowSize(4 << 20),
	}
	if timeout > 0 {
		opts = append(opts, grpc.UnaryInterceptor(grpcTimeout(timeout).unary), grpc.StreamInterceptor(grpcTimeout(timeout).stream))
	}
	srv := grpc.NewServer(opts...)
	registerOIP(srv, &oipService{router: rt, draining: draining})
	healthpb.RegisterHealthServer(srv, &healthService{router: rt, draining: draining})
	reflection.Register(srv)
	return srv
}

// grpcLimits are the gRPC port's bounds from grpc_options.
type grpcLimits struct {
	// timeout is request_timeout_s: it bounds every call; 0 is none.
	timeout time.Duration
	// maxRecv is max_receive_message_bytes: a larger message from a client
	// is refused with RESOURCE_EXHAUSTED before it is read.
	maxRecv int
	// maxStreams is max_concurrent_streams, per connection: HTTP/2's
	// SETTINGS_MAX_CONCURRENT_STREAMS, so clients queue the calls past it
	// (and a stream opened past it anyway is refused with REFUSED_STREAM).
	maxStreams int
}

// proxyHandler routes a call of a service the gateway does not implement
// to the application it names.
func proxyHandler(rt *router.Router) grpc.StreamHandler {
	return func(_ any, stream grpc.ServerStream) error {
		method, ok := grpc.MethodFromServerStream(stream)
		if !ok {
			return status.Error(codes.Internal, "no method on the stream")
		}
		d, err := callApplication(stream.Context(), rt.Table())
		if err != nil {
			return err
		}
		return d.Proxy(stream, method)
	}
}

// callApplication finds the application of a proxied call: the one its
// "application" metadata names, or the only one.
func callApplication(ctx context.Context, t *router.Table) (*router.Deployment, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	if v := md.Get(ApplicationMetadata); len(v) > 0 {
		d, ok := t.Application(v[0])
		if !ok {
			return nil, status.Errorf(codes.NotFound, "application %q does not exist; applications: %s", v[0], listNames(t.Applications()))
		}
		return d, nil
	}
	apps := t.Applications()
	switch len(apps) {
	case 0:
		return nil, status.Error(codes.Unavailable, "no application is deployed")
	case 1:
		d, _ := t.Application(apps[0])
		return d, nil
	}
	return nil, status.Errorf(codes.InvalidArgument, "%d applications are deployed; name one in the %q metadata key: %s",
		len(apps), ApplicationMetadata, listNames(apps))
}

func listNames(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

// serveGRPC serves until Stop or GracefulStop.
func serveGRPC(srv *grpc.Server, ln net.Listener) error {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("grpc: %w", err)
	}
	return nil
}

// stopGRPC lets in-flight calls finish until ctx ends, then cuts the rest.
func stopGRPC(ctx context.Context, srv *grpc.Server) {
	done := make(chan struct{})
	go func() {
		srv.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		srv.Stop()
		<-done
	}
}

// healthService is grpc.health.v1 for the gateway ("") and each
// application (by name): SERVING when the application's ingress deployment
// has a replica that takes requests.
type healthService struct {
	healthpb.UnimplementedHealthServer
	router   *router.Router
	draining *atomic.Bool
}

func (h *healthService) status(service string) (healthpb.HealthCheckResponse_ServingStatus, error) {
	if service == "" {
		if h.draining.Load() {
			return healthpb.HealthCheckResponse_NOT_SERVING, nil
		}
		return healthpb.HealthCheckResponse_SERVING, nil
	}
	d, ok := h.router.Table().Application(service)
	if !ok {
		return healthpb.HealthCheckResponse_SERVICE_UNKNOWN, status.Errorf(codes.NotFound, "no application %q; applications: %s", service, listNames(h.router.Table().Applications()))
	}
	if !h.draining.Load() && ready(d) {
		return healthpb.HealthCheckResponse_SERVING, nil
	}
	return healthpb.HealthCheckResponse_NOT_SERVING, nil
}

// Check implements grpc.health.v1.
func (h *healthService) Check(_ context.Context, req *healthpb.HealthCheckRequest) (*healthpb.HealthCheckResponse, error) {
	st, err := h.status(req.GetService())
	if err != nil {
		return nil, err
	}
	return &healthpb.HealthCheckResponse{Status: st}, nil
}

// List implements grpc.health.v1: the gateway and every application.
func (h *healthService) List(context.Context, *healthpb.HealthListRequest) (*healthpb.HealthListResponse, error) {
	out := &healthpb.HealthListResponse{Statuses: map[string]*healthpb.HealthCheckResponse{}}
	names := append([]string{""}, h.router.Table().Applications()...)
	sort.Strings(names)
	for _, n := range names {
		st, _ := h.status(n)
		out.Statuses[n] = &healthpb.HealthCheckResponse{Status: st}
	}
	return out, nil
}

// healthWatchPeriod is how often Watch looks for a change.
const healthWatchPeriod = time.Second

// Watch implements grpc.health.v1: the status now, then every change.
func (h *healthService) Watch(req *healthpb.HealthCheckRequest, stream healthpb.Health_WatchServer) error {
	last := healthpb.HealthCheckResponse_ServingStatus(-1)
	tick := time.NewTicker(healthWatchPeriod)
	defer tick.Stop()
	for {
		st, _ := h.status(req.GetService())
		if st != last {
			if err := stream.Send(&healthpb.HealthCheckResponse{Status: st}); err != nil {
				return err
			}
			last = st
		}
		select {
		case <-stream.Context().Done():
			return stream.Context().Err()
		case <-tick.C:
		}
	}
}

// ready reports whether d has a replica that takes requests.
func ready(d *router.Deployment) bool {
	for _, r := range d.Replicas() {
		if !r.Draining() {
			return true
		}
	}
	return false
}

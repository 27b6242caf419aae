package ingress

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/connlimit"
	"gantry.dev/gantry/router"
)

// Options configure a Server.
type Options struct {
	// Router routes every request; the controller publishes its routes.
	Router *router.Router
	// Config sets the limits and timeouts (max_request_body_bytes, header
	// size, keep-alive, gRPC request timeout, whether to access-log); nil:
	// the defaults.
	Config *config.Config
	// HTTPAddr and GRPCAddr are the addresses to bind.
	HTTPAddr, GRPCAddr string
	// DrainTimeout bounds waiting for in-flight requests at shutdown;
	// default 30 s.
	DrainTimeout time.Duration
	Logger       *slog.Logger
	// TracerProvider, when set, traces every routed request (see
	// TracingFromEnv); nil: no tracing.
	TracerProvider trace.TracerProvider
	// AccessLog, when set, gets a line per routed request, as JSON when
	// AccessLogJSON is set, else as text; nil: no access log.
	AccessLog     io.Writer
	AccessLogJSON bool
	// MaxHTTPConnections and MaxGRPCConnections cap the connections each
	// port holds open; 0: the config's max_connections. The caller lowers
	// them to fit the open-file limit (serve does).
	MaxHTTPConnections, MaxGRPCConnections int
}

// HTTPReserve is how many connections the HTTP port accepts past
// http_options.max_connections, to answer the gateway's own /-/ paths
// (health checks) on; other requests on them get 503.
const HTTPReserve = 64

// Server is the data plane: the HTTP ingress and the gRPC ingress.
type Server struct {
	opts     Options
	log      *slog.Logger
	draining atomic.Bool
	handler  *ingress
	access   *accessLog // nil without an access log
	httpLn   *connlimit.Listener
	http     *http.Server
	grpcLn   *connlimit.Listener
	grpc     *grpc.Server
}

// New builds the ingress and binds its listeners, so a busy port is
// reported before anything starts.
func New(o Options) (*Server, error) {
	if o.Router == nil {
		return nil, errors.New("ingress: Options need a Router")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	cfg := o.Config
	if cfg == nil {
		cfg = &config.Config{}
	}
	if o.MaxHTTPConnections <= 0 {
		o.MaxHTTPConnections = cfg.MaxHTTPConnections()
	}
	if o.MaxGRPCConnections <= 0 {
		o.MaxGRPCConnections = cfg.MaxGRPCConnections()
	}
	s := &Server{opts: o, log: o.Logger}
	httpLn, err := net.Listen("tcp", o.HTTPAddr)
	if err != nil {
		return nil, fmt.Errorf("http_options: listen on %s: %w", o.HTTPAddr, err)
	}
	grpcLn, err := net.Listen("tcp", o.GRPCAddr)
	if err != nil {
		httpLn.Close()
		return nil, fmt.Errorf("grpc_options: listen on %s: %w", o.GRPCAddr, err)
	}
	s.httpLn = connlimit.New(httpLn, o.MaxHTTPConnections, HTTPReserve)
	s.grpcLn = connlimit.New(grpcLn, o.MaxGRPCConnections, 0)
	s.handler = newIngress(o.Router, limits{maxBody: cfg.MaxRequestBodyBytes(), maxInferBody: cfg.MaxInferBodyBytes(),
		bodyRate: cfg.MinBodyRate(), responseRate: cfg.MinResponseRate(), grace: cfg.SlowClientGrace()}, &s.draining)
	if o.AccessLog != nil && accessLogEnabled(cfg) {
		s.access = newAccessLog(o.AccessLog, o.AccessLogJSON)
	}
	s.handler.obs = newObserver(o.TracerProvider, s.access)
	s.handler.maxConns = s.httpLn.Max()
	s.grpc = newGRPCServer(o.Router, &s.draining, grpcLimits{timeout: cfg.GRPCRequestTimeout(),
		maxRecv: cfg.MaxReceiveMessageBytes(), maxStreams: cfg.MaxConcurrentStreams()})
	s.http = &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout(),
		// No ReadTimeout: a body is held to min_body_rate_bytes_per_s
		// instead (pace.go), so a large upload at a fair rate is not cut.
		IdleTimeout:    cfg.KeepAliveTimeout(),
		MaxHeaderBytes: cfg.MaxHeaderBytes(),
		ErrorLog:       slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
		ConnContext:    markReserved,
	}
	return s, nil
}

// HTTPAddr is the address the HTTP ingress listens on.
func (s *Server) HTTPAddr() string { return s.httpLn.Addr().String() }

// GRPCAddr is the address the gRPC ingress listens on.
func (s *Server) GRPCAddr() string { return s.grpcLn.Addr().String() }

// Handler is the HTTP ingress's handler: it serves a request as the HTTP
// port would (the admin listener's try-it hands requests to it).
func (s *Server) Handler() http.Handler { return s.handler }

// Draining reports whether Run is shutting down: health checks then fail,
// so load balancers stop sending.
func (s *Server) Draining() bool { return s.draining.Load() }

// Run serves until ctx ends, then shuts down: stop accepting, let the
// requests and calls in flight finish (up to DrainTimeout), write their
// access log lines. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := s.http.Serve(s.httpLn); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	if s.access != nil {
		g.Go(func() error { return s.access.run(gctx) })
	}
	g.Go(func() error { return serveGRPC(s.grpc, s.grpcLn) })
	g.Go(func() error {
		<-gctx.Done()
		s.draining.Store(true)
		s.log.Info("shutting down: finishing in-flight requests")
		shutCtx, cancel := context.WithTimeout(context.Background(), s.opts.DrainTimeout)
		defer cancel()
		grpcDone := make(chan struct{})
		go func() { stopGRPC(shutCtx, s.grpc); close(grpcDone) }()
		err := s.http.Shutdown(shutCtx)
		<-grpcDone
		return err
	})
	err := g.Wait()
	s.access.flush() // lines of the requests drained after the flusher stopped
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close closes the listeners of a Server that never ran.
func (s *Server) Close() {
	s.httpLn.Close()
	s.grpcLn.Close()
}

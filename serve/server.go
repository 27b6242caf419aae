package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"sync/atomic"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/router"
)

// Options configure a Server. The caller builds the parts a Server serves
// (Router, Controller, Registry) and runs the controller: see Gateway.
type Options struct {
	// Config sets the listeners and limits; nil: the defaults.
	Config *deploy.Config
	// Router routes the ingress's requests; Controller publishes its routes.
	Router     *router.Router
	Controller *deploy.Controller
	// Registry is served at /metrics on the admin listener.
	Registry *prometheus.Registry
	// HTTPAddr, GRPCAddr and DashboardAddr override the config's listeners
	// when set. The gRPC ingress binds the HTTP ingress's host (as in Ray)
	// unless GRPCAddr names one: ":9001" sets only its port.
	HTTPAddr, GRPCAddr, DashboardAddr string
	// DrainTimeout bounds waiting for in-flight requests at shutdown;
	// default 30 s.
	DrainTimeout time.Duration
	// AdminToken, when set, is required (Authorization: Bearer) by every
	// mutating call on the admin listener; without one the admin listener
	// must bind a loopback address.
	AdminToken string
	Logger     *slog.Logger
	// TracerProvider, when set, traces every routed request (see
	// TracingFromEnv); nil: no tracing.
	TracerProvider trace.TracerProvider
	// AccessLog, when set, gets a line per routed request, as JSON when
	// AccessLogJSON is set, else as text; nil: no access log.
	AccessLog     io.Writer
	AccessLogJSON bool
}

// NewRegistry returns a Prometheus registry with the Go runtime and process
// collectors, for Options.Registry.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Server is one gateway.
type Server struct {
	opts       Options
	log        *slog.Logger
	router     *router.Router
	controller *deploy.Controller
	registry   *prometheus.Registry
	draining   atomic.Bool
	// startConfig is the config the listeners were set up from (never nil).
	startConfig *deploy.Config
	id          identity

	ingressLn, adminLn net.Listener
	ingress, admin     *http.Server
	dash               *dashboard
	access             *accessLog // nil without an access log
	grpcLn             net.Listener
	grpc               *grpc.Server
}

// New builds a server and binds its listeners, so a busy port is reported
// before anything starts.
func New(o Options) (*Server, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	cfg := o.Config
	if cfg == nil {
		cfg = &deploy.Config{}
	}
	if o.HTTPAddr == "" {
		o.HTTPAddr = cfg.HTTPAddr()
	}
	if o.DashboardAddr == "" {
		o.DashboardAddr = cfg.DashboardAddr()
	}
	if o.GRPCAddr == "" {
		o.GRPCAddr = cfg.GRPCAddr()
		if _, port, err := net.SplitHostPort(o.GRPCAddr); err == nil {
			o.GRPCAddr = ":" + port
		}
	}
	if host, port, err := net.SplitHostPort(o.GRPCAddr); err == nil && host == "" {
		if httpHost, _, err := net.SplitHostPort(o.HTTPAddr); err == nil {
			o.GRPCAddr = net.JoinHostPort(httpHost, port)
		}
	}
	if o.Router == nil || o.Controller == nil || o.Registry == nil {
		return nil, errors.New("serve: Options need a Router, a Controller and a Registry")
	}
	if err := checkAdminBind(o.DashboardAddr, o.AdminToken); err != nil {
		return nil, err
	}
	s := &Server{opts: o, log: o.Logger, router: o.Router, registry: o.Registry, controller: o.Controller,
		startConfig: cfg, id: newIdentity(time.Now())}
	s.dash = newDashboard(s.controller.Snapshot)

	var err error
	if s.ingressLn, err = net.Listen("tcp", o.HTTPAddr); err != nil {
		return nil, fmt.Errorf("http_options: listen on %s: %w", o.HTTPAddr, err)
	}
	if s.adminLn, err = net.Listen("tcp", o.DashboardAddr); err != nil {
		s.ingressLn.Close()
		return nil, fmt.Errorf("dashboard: listen on %s: %w", o.DashboardAddr, err)
	}
	in := newIngress(s.router, cfg.MaxRequestBodyBytes(), &s.draining)
	if o.AccessLog != nil && accessLogEnabled(cfg) {
		s.access = newAccessLog(o.AccessLog, o.AccessLogJSON)
	}
	in.obs = newObserver(o.TracerProvider, s.access)
	if s.grpcLn, err = net.Listen("tcp", o.GRPCAddr); err != nil {
		s.ingressLn.Close()
		s.adminLn.Close()
		return nil, fmt.Errorf("grpc_options: listen on %s: %w", o.GRPCAddr, err)
	}
	s.grpc = newGRPCServer(s.router, &s.draining, cfg.GRPCRequestTimeout())
	s.ingress = &http.Server{
		Handler:           in,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // a whole request, body included
		IdleTimeout:       cfg.KeepAliveTimeout(),
		MaxHeaderBytes:    cfg.MaxHeaderBytes(),
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelDebug),
	}
	s.admin = &http.Server{
		Handler:           s.adminRoutes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
	}
	s.admin.RegisterOnShutdown(s.dash.endStreams)
	return s, nil
}

// HTTPAddr is the address the ingress listens on.
func (s *Server) HTTPAddr() string { return s.ingressLn.Addr().String() }

// GRPCAddr is the address the gRPC ingress listens on.
func (s *Server) GRPCAddr() string { return s.grpcLn.Addr().String() }

// DashboardAddr is the address the admin listener listens on.
func (s *Server) DashboardAddr() string { return s.adminLn.Addr().String() }

// Controller is the server's controller.
func (s *Server) Controller() *deploy.Controller { return s.controller }

func (s *Server) adminRoutes() http.Handler {
	r := chi.NewRouter()
	r.Use(requireAdminToken(s.opts.AdminToken))
	r.Handle("/metrics", promhttp.HandlerFor(s.registry, promhttp.HandlerOpts{Registry: s.registry}))
	r.Get("/-/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("success")) })
	r.HandleFunc("/debug/pprof/*", pprof.Index)
	r.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	r.HandleFunc("/debug/pprof/profile", pprof.Profile)
	r.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	r.HandleFunc("/debug/pprof/trace", pprof.Trace)
	s.apiRoutes(r)
	return r
}

// Run serves until ctx ends, then shuts down in order: stop accepting,
// finish in-flight requests (up to DrainTimeout), close the admin
// listener. It returns nil after a clean shutdown. The controller must run
// until Run has returned, so the replicas serve the requests drained: see
// Gateway.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("gateway serving", "http", s.HTTPAddr(), "grpc", s.GRPCAddr(), "dashboard", s.DashboardAddr())
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error { return serveUntilClosed(s.ingress, s.ingressLn) })
	g.Go(func() error { return serveUntilClosed(s.admin, s.adminLn) })
	g.Go(func() error { return s.dash.sampler.Run(gctx) })
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
		err := s.ingress.Shutdown(shutCtx)
		<-grpcDone
		s.admin.Shutdown(shutCtx)
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
	s.ingressLn.Close()
	s.adminLn.Close()
	s.grpcLn.Close()
}

// serveUntilClosed serves on ln and treats a Shutdown as success.
func serveUntilClosed(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

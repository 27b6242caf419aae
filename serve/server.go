package serve

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/trace"
	"golang.org/x/sync/errgroup"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/router"
	"gantry.dev/gantry/serve/admin"
	"gantry.dev/gantry/serve/ingress"
)

// Options configure a Server. The caller builds the parts a Server serves
// (Router, Controller, Registry) and runs the controller: see Gateway.
type Options struct {
	// Config sets the listeners and limits; nil: the defaults.
	Config *config.Config
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
	// AdminReadLimit is the admin listener's per-client budget of heavy
	// reads; nil: admin.DefaultReadLimit.
	AdminReadLimit *admin.ReadLimit
	Logger         *slog.Logger
	// TracerProvider, when set, traces every routed request (see
	// ingress.TracingFromEnv); nil: no tracing.
	TracerProvider trace.TracerProvider
	// AccessLog, when set, gets a line per routed request, as JSON when
	// AccessLogJSON is set, else as text; nil: no access log.
	AccessLog     io.Writer
	AccessLogJSON bool
	// Handles is the handle endpoint Python replicas call other deployments
	// through (NewGateway makes it); nil: none.
	Handles *Handles
}

// NewRegistry returns a Prometheus registry with the Go runtime and process
// collectors, for Options.Registry.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// Server is a gateway's two planes: the ingress (HTTP and gRPC) and the
// admin listener.
type Server struct {
	Ingress    *ingress.Server
	Admin      *admin.Server
	Handles    *Handles // nil: none
	controller *deploy.Controller
	router     *router.Router
	log        *slog.Logger
}

// New builds both planes and binds their listeners, so a busy port is
// reported before anything starts.
func New(o Options) (*Server, error) {
	if o.Router == nil || o.Controller == nil || o.Registry == nil {
		return nil, errors.New("serve: Options need a Router, a Controller and a Registry")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := o.Config
	if cfg == nil {
		cfg = &config.Config{}
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
	if err := admin.CheckBind(o.DashboardAddr, o.AdminToken); err != nil {
		return nil, err // before binding anything
	}
	inOpts := ingress.Options{Router: o.Router, Config: cfg, HTTPAddr: o.HTTPAddr, GRPCAddr: o.GRPCAddr,
		DrainTimeout: o.DrainTimeout, Logger: o.Logger, TracerProvider: o.TracerProvider,
		AccessLog: o.AccessLog, AccessLogJSON: o.AccessLogJSON}
	capConnections(&inOpts, cfg.MaxHTTPConnections(), cfg.MaxGRPCConnections(), o.Logger)
	in, err := ingress.New(inOpts)
	if err != nil {
		return nil, err
	}
	ao := admin.Options{Controller: o.Controller, Registry: o.Registry, Ingress: in, Config: cfg,
		Addr: o.DashboardAddr, HTTPAddr: o.HTTPAddr, Token: o.AdminToken, ReadLimit: o.AdminReadLimit, Logger: o.Logger,
		WrapListener: capAdmin}
	if o.Handles != nil {
		env := o.Handles.Env()
		ao.HandleAddress, ao.HandleToken = env[EnvHandleAddress], env[EnvHandleToken]
	}
	adm, err := admin.New(ao)
	if err != nil {
		in.Close()
		return nil, err
	}
	return &Server{Ingress: in, Admin: adm, Handles: o.Handles, controller: o.Controller, router: o.Router, log: o.Logger}, nil
}

// HTTPAddr is the address the HTTP ingress listens on.
func (s *Server) HTTPAddr() string { return s.Ingress.HTTPAddr() }

// GRPCAddr is the address the gRPC ingress listens on.
func (s *Server) GRPCAddr() string { return s.Ingress.GRPCAddr() }

// DashboardAddr is the address the admin listener listens on.
func (s *Server) DashboardAddr() string { return s.Admin.Addr() }

// Controller is the controller the server serves.
func (s *Server) Controller() *deploy.Controller { return s.controller }

// Router is the router the ingress routes with.
func (s *Server) Router() *router.Router { return s.router }

// Run serves until ctx ends, then shuts down in order: the ingress stops
// accepting and finishes the requests in flight (the handle endpoint stays
// up meanwhile: those requests may call other deployments), then the
// handle endpoint finishes its calls in flight and the admin listener
// closes (the dashboard stays up while the gateway drains). It returns nil
// after a clean shutdown. The controller must run until Run has returned,
// so the replicas serve the requests drained: see Gateway.
func (s *Server) Run(ctx context.Context) error {
	s.log.Info("gateway serving", "http", s.HTTPAddr(), "grpc", s.GRPCAddr(), "dashboard", s.DashboardAddr())
	g, gctx := errgroup.WithContext(ctx)
	adminCtx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
	defer stopAdmin()
	handlesCtx, stopHandles := context.WithCancel(context.WithoutCancel(ctx))
	defer stopHandles()
	g.Go(func() error {
		defer stopAdmin()
		defer stopHandles()
		return s.Ingress.Run(gctx)
	})
	g.Go(func() error { return s.Admin.Run(adminCtx) })
	if s.Handles != nil {
		g.Go(func() error { return s.Handles.Run(handlesCtx) })
	}
	err := g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close closes the listeners of a Server that never ran.
func (s *Server) Close() {
	s.Ingress.Close()
	s.Admin.Close()
	if s.Handles != nil {
		s.Handles.Close()
	}
}

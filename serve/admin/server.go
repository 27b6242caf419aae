package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"golang.org/x/sync/errgroup"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
)

// Ingress is the data plane the admin API describes (Ray's proxy and
// http_options) and hands try-it requests to.
type Ingress interface {
	// Handler serves a request as the HTTP port would.
	Handler() http.Handler
	// HTTPAddr is the address the HTTP ingress listens on.
	HTTPAddr() string
	// Draining reports whether the ingress is shutting down.
	Draining() bool
}

// Options configure a Server.
type Options struct {
	// Controller is read for status and given the configs applied.
	Controller *deploy.Controller
	// Registry is served at /metrics.
	Registry *prometheus.Registry
	// Ingress is the gateway's data plane.
	Ingress Ingress
	// Config is the config the listeners were set up from; nil: defaults.
	Config *config.Config
	// Addr is the address to bind; HTTPAddr is the HTTP ingress's address
	// as configured (its host is Ray's http_options.host).
	Addr, HTTPAddr string
	// Token, when set, is required (Authorization: Bearer) by every
	// mutating call; without one Addr must be a loopback address.
	Token string
	// HandleAddress and HandleToken are the handle endpoint's, given to
	// local driver scripts by GET /api/gantry/handle; "": it 404s.
	HandleAddress, HandleToken string
	// ReadLimit is the per-client budget of heavy reads; nil:
	// DefaultReadLimit.
	ReadLimit *ReadLimit
	Logger    *slog.Logger
	// WrapListener, when set, wraps the bound listener (serve caps its
	// connections, so the admin API stays reachable when the ingress
	// ports are flooded).
	WrapListener func(net.Listener) net.Listener
}

// Server is the admin listener: the REST API, /metrics, pprof and the
// dashboard.
type Server struct {
	opts       Options
	log        *slog.Logger
	controller *deploy.Controller
	registry   *prometheus.Registry
	ingress    Ingress
	// startConfig is the config the listeners were set up from (never nil).
	startConfig *config.Config
	id          identity
	dash        *dashboard
	reads       *readLimiter
	ln          net.Listener
	http        *http.Server
}

// New builds the admin listener and binds it; it refuses an address beyond
// loopback without a token, before binding anything.
func New(o Options) (*Server, error) {
	if o.Controller == nil || o.Registry == nil || o.Ingress == nil {
		return nil, errors.New("admin: Options need a Controller, a Registry and an Ingress")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg := o.Config
	if cfg == nil {
		cfg = &config.Config{}
	}
	if err := CheckBind(o.Addr, o.Token); err != nil {
		return nil, err
	}
	s := &Server{opts: o, log: o.Logger, controller: o.Controller, registry: o.Registry, ingress: o.Ingress,
		startConfig: cfg, id: newIdentity(time.Now())}
	s.dash = newDashboard(s.controller.Snapshot, s.controller.Traffic)
	rl := DefaultReadLimit()
	if o.ReadLimit != nil {
		rl = *o.ReadLimit
	}
	s.reads = newReadLimiter(rl)
	var err error
	if s.ln, err = net.Listen("tcp", o.Addr); err != nil {
		return nil, fmt.Errorf("dashboard: listen on %s: %w", o.Addr, err)
	}
	if o.WrapListener != nil {
		s.ln = o.WrapListener(s.ln)
	}
	s.http = &http.Server{
		Handler:           s.routes(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       time.Minute,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    1 << 20,
	}
	s.http.RegisterOnShutdown(s.dash.endStreams)
	return s, nil
}

// Addr is the address the admin listener listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

func (s *Server) routes() http.Handler {
	r := chi.NewRouter()
	r.Use(guardBrowser(s.opts.Token))
	r.Use(requireAdminToken(s.opts.Token))
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

// Run serves, and samples the dashboard's time series, until ctx ends;
// then it ends the event and log streams and closes the listener, letting
// other calls finish for up to 10 s. It returns nil after a clean shutdown.
func (s *Server) Run(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := s.http.Serve(s.ln); !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	})
	g.Go(func() error { return s.dash.sampler.Run(gctx) })
	g.Go(func() error {
		<-gctx.Done()
		shutCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.http.Shutdown(shutCtx); err != nil {
			// A call still running (a pprof profile, say) is cut: not a
			// failed shutdown of the gateway.
			s.log.Info("admin listener: calls cut at shutdown", "err", err)
		}
		return nil
	})
	err := g.Wait()
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// Close closes the listener of a Server that never ran.
func (s *Server) Close() { s.ln.Close() }

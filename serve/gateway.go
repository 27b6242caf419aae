package serve

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/router"
)

// Gateway is one gateway's components, built by NewGateway (for
// cmd/gantry and tests alike) and run by Run in the one order that loses no
// request.
type Gateway struct {
	// Registry gets the router's and the controller's metrics; the Server
	// serves it at /metrics.
	Registry *prometheus.Registry
	// Router routes the ingress's requests.
	Router *router.Router
	// Controller reconciles; it publishes routes to Router.
	Controller *deploy.Controller
	// Server is the ingress and the admin listener.
	Server *Server
	// Config is applied when Run starts; nil restores the config the
	// controller's Store kept, if any.
	Config *config.Config
	// Alongside are more components, run with the others until Run's ctx
	// ends or one of them fails (on Kubernetes: the pod cache, the
	// GantryService watcher, the leader election). Each returns when its
	// ctx ends.
	Alongside []func(context.Context) error
	Logger    *slog.Logger
}

// NewGateway builds a gateway's components: the Prometheus registry
// (NewRegistry), the router, the controller (co, given the router and its
// metrics; co.Backend is the caller's) and the Server (so, given the
// others; it binds its listeners now, so a busy port is reported before
// anything runs). The caller may add Alongside components, then calls Run.
func NewGateway(so Options, co deploy.Options) (Gateway, error) {
	reg := NewRegistry()
	rt := router.New()
	co.Router, co.Metrics = rt, router.NewMetrics(reg)
	ctrl := deploy.NewController(co)
	reg.MustRegister(deploy.NewCollector(ctrl))
	so.Router, so.Controller, so.Registry = rt, ctrl, reg
	srv, err := New(so)
	if err != nil {
		return Gateway{}, err
	}
	return Gateway{Registry: reg, Router: rt, Controller: ctrl, Server: srv, Config: so.Config, Logger: so.Logger}, nil
}

// Run runs every component in one errgroup until ctx ends or one of them
// fails, then stops them in order: the Server stops accepting and finishes
// the requests in flight, and only then does the controller drain and stop
// the replicas (or leave them running, for a Detach controller). It returns
// nil after a clean shutdown.
func (g Gateway) Run(ctx context.Context) error {
	log := g.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	eg, gctx := errgroup.WithContext(ctx)
	// The controller's context is not gctx: it ends only once the Server has
	// returned, so replicas keep serving the requests being drained.
	ctrlCtx, stopController := context.WithCancel(context.WithoutCancel(ctx))
	defer stopController()
	eg.Go(func() error { return g.Controller.Run(ctrlCtx) })
	eg.Go(func() error {
		defer func() {
			log.Info("stopping replicas")
			stopController()
		}()
		if err := g.start(gctx, log); err != nil {
			g.Server.Close()
			return err
		}
		return g.Server.Run(gctx)
	})
	for _, run := range g.Alongside {
		eg.Go(func() error { return run(gctx) })
	}
	eg.Go(func() error { return newMemoryReturn(log).run(gctx) })
	err := eg.Wait()
	log.Info("gateway stopped")
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// start applies the start config, or restores the saved one.
func (g Gateway) start(ctx context.Context, log *slog.Logger) error {
	if g.Config != nil {
		return g.Controller.Apply(ctx, g.Config)
	}
	restored, err := g.Controller.Restore(ctx)
	if restored {
		log.Info("restored the applied config from the state dir")
	}
	return err
}

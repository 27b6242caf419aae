package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"gantry.dev/gantry/deploy"
)

// GatewayOptions configure a Gateway.
type GatewayOptions struct {
	// Namespace is where GantryServices are watched and pods run; default
	// $POD_NAMESPACE, else "default".
	Namespace string
	// Identity names this gateway in the leader Lease; default $POD_NAME,
	// else hostname-pid.
	Identity string
	// Lease timings (see ElectOptions); zero: defaults.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Logger                                    *slog.Logger
}

// Gateway is the Kubernetes side of `gantry serve --backend kubernetes`:
// the pod backend, the GantryService watcher and leader election.
type Gateway struct {
	o       GatewayOptions
	client  kubernetes.Interface
	dyn     dynamic.Interface
	backend *Backend
	// ctrl and services are set once by Attach, before anything runs.
	ctrl     *deploy.Controller
	services *Services
	leading  atomic.Bool
}

// RestConfig finds the cluster as client-go tools do: the in-cluster
// config inside a pod, else $KUBECONFIG, else ~/.kube/config.
func RestConfig() (*rest.Config, error) {
	if cfg, err := rest.InClusterConfig(); err == nil {
		return cfg, nil
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("finding the Kubernetes cluster (no in-cluster config, no usable $KUBECONFIG or ~/.kube/config): %w", err)
	}
	return cfg, nil
}

// NewGateway connects to the cluster and checks that the GantryService
// resource is installed and readable, so a gateway that cannot work fails
// before it serves. Then build the controller with Backend, Attach it, and
// run Run as one of the gateway's components.
func NewGateway(ctx context.Context, o GatewayOptions) (*Gateway, error) {
	if o.Namespace == "" {
		o.Namespace = os.Getenv("POD_NAMESPACE")
	}
	if o.Namespace == "" {
		o.Namespace = "default"
	}
	if o.Identity == "" {
		o.Identity = os.Getenv("POD_NAME")
	}
	if o.Identity == "" {
		host, _ := os.Hostname()
		o.Identity = host + "-" + strconv.Itoa(os.Getpid())
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	cfg, err := RestConfig()
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "gantry-gateway"
	g := &Gateway{o: o}
	if g.client, err = kubernetes.NewForConfig(cfg); err != nil {
		return nil, err
	}
	if g.dyn, err = dynamic.NewForConfig(cfg); err != nil {
		return nil, err
	}
	g.backend = New(Options{Client: g.client, Namespace: o.Namespace, Logger: o.Logger,
		Owner: func(app string) Owner { return g.services.Owner(app) }})
	if err := g.preflight(ctx); err != nil {
		return nil, err
	}
	return g, nil
}

// Backend is the pod backend to build the controller with. The controller
// must start as a follower and detach its replicas at shutdown
// (deploy.Options Follower and Detach): Run makes it the leader once this
// gateway holds the Lease.
func (g *Gateway) Backend() *Backend { return g.backend }

// Namespace is the namespace the gateway works in.
func (g *Gateway) Namespace() string { return g.o.Namespace }

// Attach makes ctrl, the controller built with Backend, the one this
// gateway applies its namespace's GantryServices to and makes the leader
// once it holds the Lease. Call it once, before Run and before ctrl runs:
// the backend asks the GantryService watcher it builds who owns a pod.
func (g *Gateway) Attach(ctrl *deploy.Controller) {
	g.ctrl = ctrl
	g.services = NewServices(ServicesOptions{Dynamic: g.dyn, Namespace: g.o.Namespace, Controller: ctrl,
		Leading: g.leading.Load, Logger: g.o.Logger})
}

// Run runs the pod cache, the GantryService watcher and the leader
// election until ctx ends. The server and the controller are the caller's
// components, run beside it (serve.Gateway). Losing the Lease ends Run with
// ErrLostLease.
func (g *Gateway) Run(ctx context.Context) error {
	if g.services == nil {
		return errors.New("kubernetes: Gateway.Run before Attach")
	}
	eg, ctx := errgroup.WithContext(ctx)
	eg.Go(func() error { return g.backend.Run(ctx) })
	eg.Go(func() error { return g.services.Run(ctx) })
	eg.Go(func() error {
		return Elect(ctx, ElectOptions{
			Client: g.client, Namespace: g.o.Namespace, Identity: g.o.Identity, Logger: g.o.Logger,
			LeaseDuration: g.o.LeaseDuration, RenewDeadline: g.o.RenewDeadline, RetryPeriod: g.o.RetryPeriod,
			OnLeading: func() {
				g.leading.Store(true)
				g.ctrl.SetLeader(true)
			},
		})
	})
	err := eg.Wait()
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// preflight fails fast, with what to do, when the GantryService resource is
// not installed or not readable, rather than waiting on a watch that never
// syncs.
func (g *Gateway) preflight(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	_, err := g.dyn.Resource(GantryServices).Namespace(g.o.Namespace).List(ctx, metav1.ListOptions{Limit: 1})
	switch {
	case err == nil:
		return nil
	case apierrors.IsNotFound(err):
		return fmt.Errorf("the GantryService resource (%s) is not installed: apply charts/gantry/crds/gantryservices.yaml: %w", GantryServices.GroupResource(), err)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("this gateway may not list gantryservices in namespace %s (see the chart's Role): %w", g.o.Namespace, err)
	default:
		return fmt.Errorf("listing gantryservices in namespace %s: %w", g.o.Namespace, err)
	}
}

// LogClientTo sends client-go's own logging (leader election, watch
// errors), which goes through klog to stderr in klog's format, to log
// instead. klog's logger is process-wide and setting it is not safe while
// clients run: call it once, before NewGateway.
func LogClientTo(log *slog.Logger) {
	klog.SetSlogLogger(log)
}

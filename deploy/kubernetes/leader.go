package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/leaderelection"
	"k8s.io/client-go/tools/leaderelection/resourcelock"
)

// ErrLostLease is returned by Elect when this gateway stops being the leader.
var ErrLostLease = errors.New("lost the gateway leader lease")

// ElectOptions configure Elect.
type ElectOptions struct {
	Client    kubernetes.Interface
	Namespace string
	// Lease is the Lease's name; default "gantry-gateway".
	Lease string
	// Identity is this gateway's (its pod name); required.
	Identity string
	// Lease timings; defaults 15 s, 10 s and 2 s, as client-go's tools use.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// OnLeading is called once this gateway holds the lease.
	OnLeading func()
	Logger    *slog.Logger
}

// Elect campaigns for the Lease until ctx ends (then it releases it, so
// another gateway takes over at once) and returns ErrLostLease if this
// gateway held the lease and lost it: the caller must stop reconciling.
func Elect(ctx context.Context, o ElectOptions) error {
	if o.Identity == "" {
		return errors.New("leader election needs an identity")
	}
	if o.Lease == "" {
		o.Lease = "gantry-gateway"
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	o.LeaseDuration = cmpOr(o.LeaseDuration, 15*time.Second)
	o.RenewDeadline = cmpOr(o.RenewDeadline, 10*time.Second)
	o.RetryPeriod = cmpOr(o.RetryPeriod, 2*time.Second)
	lock := &resourcelock.LeaseLock{
		LeaseMeta:  metav1.ObjectMeta{Name: o.Lease, Namespace: o.Namespace},
		Client:     o.Client.CoordinationV1(),
		LockConfig: resourcelock.ResourceLockConfig{Identity: o.Identity},
	}
	var led atomic.Bool
	el, err := leaderelection.NewLeaderElector(leaderelection.LeaderElectionConfig{
		Lock: lock, ReleaseOnCancel: true, Name: o.Lease,
		LeaseDuration: o.LeaseDuration, RenewDeadline: o.RenewDeadline, RetryPeriod: o.RetryPeriod,
		Callbacks: leaderelection.LeaderCallbacks{
			OnStartedLeading: func(context.Context) {
				led.Store(true)
				o.Logger.Info("this gateway is the leader: reconciling", "lease", o.Lease, "identity", o.Identity)
				if o.OnLeading != nil {
					o.OnLeading()
				}
			},
			OnStoppedLeading: func() {},
			OnNewLeader: func(id string) {
				if id != o.Identity {
					o.Logger.Info("following the leader gateway", "leader", id)
				}
			},
		},
	})
	if err != nil {
		return fmt.Errorf("leader election: %w", err)
	}
	el.Run(ctx) // returns once ctx ends or the lease is lost
	if ctx.Err() == nil && led.Load() {
		return ErrLostLease
	}
	return nil
}

func cmpOr(d, def time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return def
}

package deploy

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"maps"
	"net/http"
	"sync/atomic"
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/router"
)

// Controller keeps the running replicas equal to the applied config. One
// goroutine (Run) owns all state and reconciles level-triggered: it compares
// desired with observed and acts. Replica lifecycles run in supervisor
// goroutines that report back through events; status readers see a copy
// guarded by mu.
type Controller struct {
	backend Backend
	router  *router.Router
	metrics *router.Metrics
	log     *slog.Logger
	health  *http.Client
	self    string
	store   *Store
	graphs  GraphBuilder      // builds import_path applications' graphs
	env     map[string]string // added to every replica's environment

	// Injected for tests.
	clock Clock
	newID func() string

	applyc chan applyReq
	events chan event
	wake   chan struct{} // a request queued for a deployment: reconcile now
	// Supervisors and stoppers (see spawn): how many run, and a signal when
	// the last one ends.
	live atomic.Int64
	idle chan struct{}

	// Owned by Run.
	apps    map[string]*appRun // by name, including those being deleted
	applied *config.Config
	slices  *Slices // TPU slices of the worker groups, held by replica id

	// Leadership (see SetLeader): leading is what was asked, lead what the
	// loop acts on.
	leading      atomic.Bool
	lead         bool
	adoptNeeded  bool
	detach       bool
	shuttingDown bool
	eventLog     *EventLog // what happened, for the dashboard; written by Run

	// Status for readers: the last snapshot and the live objects behind it,
	// published together by Run when version moved past published.
	version, published uint64
	status             atomic.Pointer[publishedStatus]
}

// Options configure a Controller.
type Options struct {
	Backend Backend
	Router  *router.Router
	Metrics *router.Metrics // may be nil
	Logger  *slog.Logger
	// Self is the path of the running gantry executable, for commands that
	// start with "gantry".
	Self string
	// Clock is the time source of the control loop, the crash backoff, the
	// autoscaler and the health checks; default real time.
	Clock Clock
	// Store keeps the applied config across restarts; nil keeps nothing.
	Store *Store
	// Follower starts the controller following instead of reconciling
	// (see SetLeader).
	Follower bool
	// Detach leaves the replicas running when Run ends, for backends whose
	// replicas outlive the gateway (another gateway adopts them).
	Detach bool
	// Graphs builds the graphs of import_path applications; default
	// PythonBuilder{} (a backend that cannot run them sets NoPython).
	Graphs GraphBuilder
	// ReplicaEnv is added to every replica's environment (the handle
	// endpoint's address and token); it is not part of the code version.
	ReplicaEnv map[string]string
}

// NewController returns a controller; call Run to start it.
func NewController(o Options) *Controller {
	if o.Clock == nil {
		o.Clock = realClock{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Graphs == nil {
		o.Graphs = PythonBuilder{}
	}
	c := &Controller{
		graphs:  o.Graphs,
		env:     maps.Clone(o.ReplicaEnv),
		backend: o.Backend,
		router:  o.Router,
		metrics: o.Metrics,
		log:     o.Logger,
		self:    o.Self,
		store:   o.Store,
		clock:   o.Clock,
		newID:   randomID,
		health: &http.Client{Transport: &http.Transport{
			MaxIdleConnsPerHost: 1,
			IdleConnTimeout:     time.Minute,
			DisableCompression:  true,
		}},
		applyc: make(chan applyReq),
		events: make(chan event, 64),
		wake:   make(chan struct{}, 1),
		idle:   make(chan struct{}, 1),
		apps:   map[string]*appRun{},
		detach: o.Detach,

		eventLog: NewEventLog(DefaultEventLogSize, o.Clock.Now),
	}
	c.status.Store(&publishedStatus{snap: &Snapshot{}, live: &liveIndex{}})
	c.leading.Store(!o.Follower)
	c.lead = !o.Follower
	c.adoptNeeded = c.lead // adopt what exists once the first config is applied
	return c
}

type applyReq struct {
	cfg  *config.Config
	done chan struct{}
}

// Apply makes cfg the desired state and returns once the controller has
// saved and taken it (not once replicas are running). cfg must be valid.
func (c *Controller) Apply(ctx context.Context, cfg *config.Config) error {
	if c.store != nil {
		if err := c.store.Save(cfg, c.now()); err != nil {
			return err
		}
	}
	return c.take(ctx, cfg)
}

// Restore applies the config saved by an earlier gateway, if any, and
// reports whether there was one.
func (c *Controller) Restore(ctx context.Context) (bool, error) {
	if c.store == nil {
		return false, nil
	}
	cfg, err := c.store.Load()
	if err != nil || cfg == nil {
		return false, err
	}
	return true, c.take(ctx, cfg)
}

// take hands cfg to the loop.
func (c *Controller) take(ctx context.Context, cfg *config.Config) error {
	req := applyReq{cfg: cfg, done: make(chan struct{})}
	select {
	case c.applyc <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-req.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run reconciles until ctx ends, then drains and stops every replica and
// returns once they are all gone.
func (c *Controller) Run(ctx context.Context) error {
	tick := c.clock.After(passEvery)
	for {
		select {
		case req := <-c.applyc:
			c.apply(req.cfg)
			c.pass() // readers see the new config once Apply returns
			close(req.done)
			continue
		case ev := <-c.events:
			c.handle(ev)
		case <-tick:
			tick = c.clock.After(passEvery)
		case <-c.wake:
		case <-ctx.Done():
			c.shutdown()
			return nil
		}
		c.pass()
	}
}

// pass is one round of the loop: follow leadership, reconcile every
// deployment, publish the status if it changed.
func (c *Controller) pass() {
	c.syncLeadership()
	c.reconcile()
	c.publishStatus()
}

// wakeUp asks the loop to reconcile now; it never blocks (the router calls
// it when a request queues, so a deployment at zero starts at once).
func (c *Controller) wakeUp() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// randomID returns 8 hex characters.
func randomID() string {
	var b [4]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// replicaID names a replica the way Ray does: app#deployment#suffix.
func (c *Controller) replicaID(app, dep string) string {
	return app + "#" + dep + "#" + c.newID()
}

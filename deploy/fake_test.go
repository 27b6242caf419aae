package deploy

// The controller's unit tests run it against a fake Backend and a fake
// clock. The Backend is a fake because these are unit tests of the
// controller's decisions (what to start, stop, reconfigure and report, and
// when): a fake instance exits with the code a test picks, fails to start
// or to become healthy on cue, and the clock moves only when the test
// advances it, so backoffs, delays and health-check periods take no time.
// Each fake instance still serves its health endpoint and POST
// /-/reconfigure on a real httptest server, so the controller's health
// checks and reconfigures go over real HTTP. End-to-end tests with real
// replica processes exist in serve and cmd/gantry (and deploy/local,
// deploy/kubernetes for the backends themselves).

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// fakeClock is a Clock that moves only when Advance is called.
type fakeClock struct {
	mu      sync.Mutex
	now     time.Time
	waiters []fakeWaiter
	lastID  uint64
}

type fakeWaiter struct {
	at time.Time
	ch chan time.Time // After's; nil for AfterFunc's
	f  func()         // AfterFunc's
	id uint64         // AfterFunc's, for its stop
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.waiters = append(c.waiters, fakeWaiter{at: c.now.Add(d), ch: ch})
	return ch
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lastID++
	w := fakeWaiter{at: c.now.Add(d), f: f, id: c.lastID}
	c.waiters = append(c.waiters, w)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		n := len(c.waiters)
		c.waiters = slices.DeleteFunc(c.waiters, func(x fakeWaiter) bool { return x.id == w.id })
		return len(c.waiters) < n
	}
}

// Advance moves the clock by d and fires every After and AfterFunc that
// is due (the AfterFuncs in Advance's goroutine, once the clock is
// unlocked: they read it).
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []func()
	c.waiters = slices.DeleteFunc(c.waiters, func(w fakeWaiter) bool {
		if w.at.After(c.now) {
			return false
		}
		if w.f != nil {
			due = append(due, w.f)
		} else {
			w.ch <- c.now
		}
		return true
	})
	c.mu.Unlock()
	for _, f := range due {
		f()
	}
}

// fakePlan says how the replicas a fakeBackend starts behave.
type fakePlan struct {
	startErr      error    // Start fails with this error
	exitCode      int      // with exitAtOnce: the code the replica exits with
	exitAtOnce    bool     // the replica exits as soon as it is started
	unhealthy     bool     // its health checks fail until setHealthy(true)
	noReconfigure bool     // POST /-/reconfigure answers 404
	placeLater    string   // a PlacedInstance, pending with this reason until place()
	log           []string // what LogTail returns
}

// fakeBackend is an in-memory Backend (and Adopter) whose instances the
// test controls.
type fakeBackend struct {
	clock Clock

	mu        sync.Mutex
	plan      func(ReplicaSpec) fakePlan
	instances []*fakeInstance // every instance started, in order
	failed    []ReplicaSpec   // starts that failed
	existing  []Adopted       // what Existing reports
	listed    int             // calls of Existing
}

func newFakeBackend(clock Clock) *fakeBackend { return &fakeBackend{clock: clock} }

// setPlan decides how the next replicas behave.
func (b *fakeBackend) setPlan(p func(ReplicaSpec) fakePlan) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.plan = p
}

func (b *fakeBackend) Start(_ context.Context, spec ReplicaSpec) (Instance, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var p fakePlan
	if b.plan != nil {
		p = b.plan(spec)
	}
	if p.startErr != nil {
		b.failed = append(b.failed, spec)
		return nil, p.startErr
	}
	inst := newFakeInstance(spec, p, b.clock.Now())
	b.instances = append(b.instances, inst)
	if p.exitAtOnce {
		inst.exit(p.exitCode)
	}
	if p.placeLater != "" {
		inst.placed, inst.pending = make(chan struct{}), p.placeLater
		return fakePlacedInstance{inst}, nil
	}
	return inst, nil
}

func (b *fakeBackend) Existing(context.Context) ([]Adopted, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.listed++
	return slices.Clone(b.existing), nil
}

func (b *fakeBackend) setExisting(list []Adopted) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.existing = list
}

// started returns every instance started so far.
func (b *fakeBackend) started() []*fakeInstance {
	b.mu.Lock()
	defer b.mu.Unlock()
	return slices.Clone(b.instances)
}

// instance returns the started instance of replica id.
func (b *fakeBackend) instance(id string) *fakeInstance {
	for _, in := range b.started() {
		if in.spec.ID == id {
			return in
		}
	}
	return nil
}

// failedStarts is how many starts failed.
func (b *fakeBackend) failedStarts() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.failed)
}

// fakeExit is how a fake replica ended, with an exit code as
// *exec.ExitError has.
type fakeExit int

func (e fakeExit) Error() string { return fmt.Sprintf("exit status %d", int(e)) }
func (e fakeExit) ExitCode() int { return int(e) }

// fakeInstance is one fake replica: a real HTTP server for its health
// endpoint and reconfigure, and an exit the test triggers.
type fakeInstance struct {
	spec      ReplicaSpec
	startedAt time.Time // on the fake clock
	srv       *httptest.Server
	log       []string
	healthy   atomic.Bool
	stops     atomic.Int32
	// failReconfigure makes POST /-/reconfigure answer 500.
	failReconfigure atomic.Bool

	mu          sync.Mutex
	reconfigs   []string // bodies of POST /-/reconfigure
	userConfigs []string // the user_config it has: at start, then each reconfigure

	done chan struct{}
	end  sync.Once
	err  error // written before done is closed

	// For a fakePlacedInstance: closed by place; the pending reason until then.
	placed    chan struct{}
	placeOnce sync.Once
	pending   string
}

func newFakeInstance(spec ReplicaSpec, p fakePlan, now time.Time) *fakeInstance {
	in := &fakeInstance{spec: spec, startedAt: now, log: p.log, done: make(chan struct{})}
	in.healthy.Store(!p.unhealthy)
	in.userConfigs = []string{string(spec.UserConfig)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /-/healthz", func(w http.ResponseWriter, _ *http.Request) {
		if !in.healthy.Load() {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "success")
	})
	mux.HandleFunc("POST /-/reconfigure", func(w http.ResponseWriter, r *http.Request) {
		if p.noReconfigure {
			http.NotFound(w, r)
			return
		}
		if in.failReconfigure.Load() {
			http.Error(w, "bad user_config", http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(r.Body)
		in.mu.Lock()
		in.reconfigs = append(in.reconfigs, string(body))
		in.userConfigs = append(in.userConfigs, string(body))
		in.mu.Unlock()
	})
	in.srv = httptest.NewServer(mux)
	return in
}

func (in *fakeInstance) setHealthy(ok bool) { in.healthy.Store(ok) }

// exit ends the replica with code, as a process exiting on its own.
func (in *fakeInstance) exit(code int) { in.finish(fakeExit(code)) }

// finish ends the replica: its server stops listening and Done closes.
func (in *fakeInstance) finish(err error) {
	in.end.Do(func() {
		in.err = err
		in.srv.Close()
		close(in.done)
	})
}

func (in *fakeInstance) exited() bool {
	select {
	case <-in.done:
		return true
	default:
		return false
	}
}

func (in *fakeInstance) reconfigured() []string {
	in.mu.Lock()
	defer in.mu.Unlock()
	return slices.Clone(in.reconfigs)
}

func (in *fakeInstance) Address() string { return in.srv.Listener.Addr().String() }

func (in *fakeInstance) Members() []Member {
	hosts := max(in.spec.Hosts, 1)
	ms := make([]Member, hosts)
	for h := range hosts {
		// One fake server stands for every host: the controller checks
		// each member's health before the replica is RUNNING.
		ms[h] = Member{Host: h, Address: in.Address(), PID: 1000 + h, LogPath: "/fake/" + in.spec.ID}
	}
	return ms
}

func (in *fakeInstance) Done() <-chan struct{} { return in.done }

func (in *fakeInstance) Err() error {
	select {
	case <-in.done:
		return in.err
	default:
		return nil
	}
}

func (in *fakeInstance) Stop(time.Duration) error {
	in.stops.Add(1)
	in.finish(errors.New("signal: terminated"))
	return nil
}

func (in *fakeInstance) LogPath() string { return "/fake/" + in.spec.ID }

func (in *fakeInstance) LogTail(n int) []string {
	return slices.Clone(in.log[max(0, len(in.log)-n):])
}

// LogSince makes a fakeInstance a LogFollower.
func (in *fakeInstance) LogSince(after uint64) ([]string, uint64) {
	if after >= uint64(len(in.log)) {
		return nil, after
	}
	return slices.Clone(in.log[after:]), uint64(len(in.log))
}

// fakePlacedInstance is a fake replica that waits to be placed, as a pod
// waits for a node.
type fakePlacedInstance struct{ *fakeInstance }

func (p fakePlacedInstance) Placed() <-chan struct{} { return p.placed }

func (p fakePlacedInstance) PendingReason() string {
	select {
	case <-p.placed:
		return ""
	default:
		return p.pending
	}
}

// place ends the wait of a fakePlacedInstance.
func (in *fakeInstance) place() { in.placeOnce.Do(func() { close(in.placed) }) }

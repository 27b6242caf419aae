package router

import (
	"container/list"
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// ErrQueueFull is returned by Acquire when every replica is at
// max_ongoing_requests and max_queued_requests requests already wait.
var ErrQueueFull = errors.New("router: every replica is busy and the queue is full")

// Settings are a deployment's routing parameters; they change in place.
type Settings struct {
	// MaxOngoingRequests is the per-replica concurrency limit (>= 1).
	MaxOngoingRequests int
	// MaxQueuedRequests bounds waiting requests; -1 is unbounded.
	MaxQueuedRequests int
	// RequestTimeout bounds a request until its response starts; 0 is none.
	RequestTimeout time.Duration
	// Idempotent marks every request as safe to retry, not only GET, HEAD and OPTIONS.
	Idempotent bool
	// MaxAttempts bounds attempts per request, retries included; default 3.
	MaxAttempts int
}

// Deployment routes one deployment's requests over its replica pool.
// Replicas and Settings are replaced atomically by the controller; the
// request path reads them with one atomic load each.
type Deployment struct {
	app, name string
	settings  atomic.Pointer[Settings]
	pool      atomic.Pointer[[]*Replica]
	metrics   *deploymentMetrics

	picker p2c           // replica choice; its randomness is injected for tests
	rand64 func() uint64 // trace ids; injected for tests

	onQueue atomic.Pointer[func()] // called when a request starts waiting
	wake    func()                 // d.dispatch, given to the pool's replicas to call when they are back
	trip    func()                 // counts a pool replica's breaker opening
	// unavailable is why no replica will come soon (SetUnavailable); nil
	// while one may. Read only when no replica is free.
	unavailable atomic.Pointer[string]

	// The queue: only touched when every replica is full.
	mu      sync.Mutex
	waiters list.List // of *waiter, FIFO
	waiting atomic.Int64
}

type waiter struct {
	ch chan *Replica // buffered 1: the replica handed to this waiter; nil: failed (see reason)
	// reason is why the waiter was failed (SetUnavailable), written before
	// the nil is sent on ch.
	reason string
	skip   tried // replicas a retry should avoid (a copy: the request's own stays on its stack)
	retry  bool  // skip applies: not a first attempt
}

// NewDeployment returns the router for deployment name of application app.
// m may be nil (no metrics).
func NewDeployment(app, name string, s Settings, m *Metrics) *Deployment {
	d := &Deployment{app: app, name: name, picker: p2c{intn: rand.IntN}, rand64: rand.Uint64}
	d.metrics = m.forDeployment(app, name)
	d.wake = d.dispatch
	d.trip = d.metrics.tripped
	empty := []*Replica{}
	d.pool.Store(&empty)
	d.Update(s)
	return d
}

// Application is the deployment's application.
func (d *Deployment) Application() string { return d.app }

// Name is the deployment's name.
func (d *Deployment) Name() string { return d.name }

// Update replaces the deployment's settings. Requests already routed keep
// the settings they started with.
func (d *Deployment) Update(s Settings) {
	if s.MaxOngoingRequests < 1 {
		s.MaxOngoingRequests = 1
	}
	if s.MaxAttempts < 1 {
		s.MaxAttempts = 3
	}
	d.settings.Store(&s)
	d.dispatch() // a higher limit may free slots for waiters
}

// OnQueue sets f to be called (without blocking) whenever a request starts
// waiting for a replica, so the controller can react at once, e.g. start
// the first replica of a deployment scaled to zero.
func (d *Deployment) OnQueue(f func()) { d.onQueue.Store(&f) }

// Settings returns the settings in effect.
func (d *Deployment) Settings() Settings { return *d.settings.Load() }

// SetReplicas replaces the pool. Replicas left out should be drained by the
// caller; requests they are serving finish normally. Waiters are handed
// the replicas that joined, and any replica of the pool that comes back
// later (its breaker's open period or refused mark over) is handed to them
// then.
func (d *Deployment) SetReplicas(rs []*Replica) {
	cp := append([]*Replica(nil), rs...)
	for _, r := range cp {
		r.waker.notify.Store(&d.wake)
		r.onTrip.Store(&d.trip)
	}
	d.pool.Store(&cp)
	d.dispatch()
}

// UnavailableError is the answer to a request that found no free replica
// in a deployment that will have none soon (see SetUnavailable).
type UnavailableError struct {
	// Reason says why, in the user's terms.
	Reason string
}

func (e *UnavailableError) Error() string { return e.Reason }

// SetUnavailable tells the deployment that no replica will come soon, and
// why: it failed and will not start one until its config changes, or it
// has none by config. A request that finds no free replica then fails at
// once with an *UnavailableError instead of queueing, and so do the
// requests already waiting. reason "" clears it: a replica is starting, or
// will start on demand, so requests queue for it again. The controller
// calls it from its reconcile pass, only when the pool is empty.
func (d *Deployment) SetUnavailable(reason string) {
	if reason == "" {
		d.unavailable.Store(nil)
		return
	}
	if cur := d.unavailable.Load(); cur != nil && *cur == reason {
		return
	}
	d.unavailable.Store(&reason)
	// Under mu after the store: wait checks under mu, so a waiter either
	// saw the reason or is in the list now.
	d.mu.Lock()
	defer d.mu.Unlock()
	for el := d.waiters.Front(); el != nil; {
		next := el.Next()
		w := el.Value.(*waiter)
		d.waiters.Remove(el)
		el.Value = nil
		d.waiting.Add(-1)
		w.reason = reason
		w.ch <- nil
		el = next
	}
}

// Unavailable is the reason set by SetUnavailable; "" when none.
func (d *Deployment) Unavailable() string {
	if p := d.unavailable.Load(); p != nil {
		return *p
	}
	return ""
}

// Replicas returns the current pool; the slice must not be modified.
func (d *Deployment) Replicas() []*Replica { return *d.pool.Load() }

// Queued is the number of requests waiting for a replica.
func (d *Deployment) Queued() int64 { return d.waiting.Load() }

// Inflight is the number of requests the pool's replicas are serving.
func (d *Deployment) Inflight() int64 {
	var n int64
	for _, r := range d.Replicas() {
		n += r.Inflight()
	}
	return n
}

// Acquire takes a slot on a replica for one request, waiting in the queue
// when every replica is full. It returns ErrQueueFull at once when the queue
// is at its limit, an *UnavailableError at once (or as soon as it is set,
// while waiting) when the deployment will have no replica soon (see
// SetUnavailable), and ctx's error when ctx ends first. The caller must
// call Release with the replica it got.
func (d *Deployment) Acquire(ctx context.Context) (*Replica, error) {
	return d.acquire(ctx, nil, "")
}

// acquire is Acquire for an attempt that avoids the replicas in skip and,
// when model is set, prefers a replica that has that multiplexed model
// loaded (see multiplex.go).
func (d *Deployment) acquire(ctx context.Context, skip *tried, model string) (*Replica, error) {
	limit := int64(d.settings.Load().MaxOngoingRequests)
	if model != "" {
		if r := d.pickModel(*d.pool.Load(), limit, skip, model); r != nil {
			return r, nil
		}
	}
	if r := d.pickFor(limit, skip); r != nil {
		return r, nil
	}
	return d.wait(ctx, skip)
}

// pickFor picks for a request that already tried the replicas in skip: an
// untried replica when the pool has one, even if that means waiting for its
// slot, since a replica that just failed is likely dead and still in the
// pool until the controller notices. Only when every replica in the pool
// has been tried does a tried one serve again (a single-replica deployment).
func (d *Deployment) pickFor(limit int64, skip *tried) *Replica {
	pool := *d.pool.Load()
	if skip == nil {
		return d.picker.pick(pool, limit, nil)
	}
	if r := d.picker.pick(pool, limit, skip); r != nil {
		return r
	}
	for _, r := range pool {
		if !skip.has(r) {
			return nil // wait for the untried one
		}
	}
	return d.picker.pick(pool, limit, nil)
}

// wait queues the request until dispatch hands it a replica.
func (d *Deployment) wait(ctx context.Context, skip *tried) (*Replica, error) {
	s := d.settings.Load()
	w := &waiter{ch: make(chan *Replica, 1)}
	if skip != nil {
		w.skip, w.retry = *skip, true
	}
	d.mu.Lock()
	if reason := d.unavailable.Load(); reason != nil {
		d.mu.Unlock()
		return nil, &UnavailableError{Reason: *reason}
	}
	if s.MaxQueuedRequests >= 0 && d.waiters.Len() >= s.MaxQueuedRequests {
		d.mu.Unlock()
		return nil, ErrQueueFull
	}
	el := d.waiters.PushBack(w)
	d.waiting.Add(1)
	d.mu.Unlock()
	if f := d.onQueue.Load(); f != nil {
		(*f)()
	}
	// A slot may have freed between pick and PushBack; Release only
	// dispatches when it sees waiters, so look once more now.
	d.dispatch()

	select {
	case r := <-w.ch:
		if r == nil {
			return nil, &UnavailableError{Reason: w.reason}
		}
		return r, nil
	case <-ctx.Done():
		d.mu.Lock()
		queued := el.Value != nil
		if queued {
			d.waiters.Remove(el)
			el.Value = nil
			d.waiting.Add(-1)
		}
		d.mu.Unlock()
		if !queued { // handed a replica just as ctx ended: give it back
			if r := <-w.ch; r != nil {
				d.Release(r)
			}
		}
		return nil, ctx.Err()
	}
}

// dispatch hands free slots to waiters in FIFO order. A retrying waiter
// that cannot use the free replica (it failed there) lets the ones behind it
// take it.
func (d *Deployment) dispatch() {
	if d.waiting.Load() == 0 {
		return
	}
	limit := int64(d.settings.Load().MaxOngoingRequests)
	d.mu.Lock()
	defer d.mu.Unlock()
	for el := d.waiters.Front(); el != nil; {
		w := el.Value.(*waiter)
		var skip *tried
		if w.retry {
			skip = &w.skip
		}
		r := d.pickFor(limit, skip)
		if r == nil {
			if !w.retry {
				return // no free slot at all
			}
			el = el.Next()
			continue
		}
		next := el.Next()
		d.waiters.Remove(el)
		el.Value = nil
		d.waiting.Add(-1)
		w.ch <- r
		el = next
	}
}

// Release returns the slot a request held on r and hands it to the first
// waiter, if any.
func (d *Deployment) Release(r *Replica) {
	r.release()
	if d.waiting.Load() > 0 {
		d.dispatch()
	}
}

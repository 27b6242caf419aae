package router

import (
	"sync"
	"sync/atomic"
	"time"
)

// A replica taken out of picking for a while — its breaker opened, or it
// refused a connection — comes back by itself when that while ends, and
// nothing else happens at that moment: no request is released, no pool
// changes. So the replica arms a timer for it and then tells its
// deployment, which hands it to the requests waiting in its queue
// (Deployment.dispatch). Without it, a request queued while every replica
// was out would wait until request_timeout_s.

// AfterFunc calls f in its own goroutine once d has passed, like
// time.AfterFunc, and returns a function that stops the timer (reporting
// whether it stopped it before it fired). Injected so tests drive time.
type AfterFunc func(d time.Duration, f func()) (stop func() bool)

func realAfterFunc(d time.Duration, f func()) func() bool { return time.AfterFunc(d, f).Stop }

// waker is a replica's one timer for the moment it may take requests again.
type waker struct {
	afterFunc AfterFunc
	notify    atomic.Pointer[func()] // the deployment's dispatch; set by SetReplicas

	mu     sync.Mutex
	at     time.Time   // when the armed timer fires; zero: none armed
	stop   func() bool // stops the armed timer
	gen    uint64      // which arming is current: a superseded timer does nothing
	closed bool
}

// wakeAt arranges for the replica's deployment to be told at t that the
// replica may be available again. The replica is back only once every
// reason to keep it out has passed, so a timer armed for t or later stays.
func (r *Replica) wakeAt(t time.Time) {
	w := &r.waker
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || (!w.at.IsZero() && !w.at.Before(t)) {
		return
	}
	if w.stop != nil {
		w.stop()
	}
	w.gen++
	gen := w.gen
	w.at = t
	after := w.afterFunc
	if after == nil { // a Replica not made by NewReplica
		after = realAfterFunc
	}
	w.stop = after(max(0, t.Sub(r.now())), func() { r.woken(gen) })
}

// woken runs when the timer armed as gen fires.
func (r *Replica) woken(gen uint64) {
	w := &r.waker
	w.mu.Lock()
	current := gen == w.gen && !w.closed
	if current {
		w.at, w.stop = time.Time{}, nil
	}
	w.mu.Unlock()
	if !current {
		return
	}
	if f := w.notify.Load(); f != nil {
		(*f)()
	}
}

// stopWaking stops the timer for good (Close).
func (r *Replica) stopWaking() {
	w := &r.waker
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.stop != nil {
		w.stop()
		w.stop = nil
	}
}

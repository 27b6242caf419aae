package router

import (
	"errors"
	"sync/atomic"
	"time"

	"github.com/sony/gobreaker/v2"
)

var errAttemptFailed = errors.New("attempt failed")

// breaker wraps a gobreaker circuit breaker so that the request path stays
// lock-free while the replica is healthy: the gobreaker (which locks) is only
// consulted once failures have started, and its open state is mirrored in an
// atomic that Available reads.
type breaker struct {
	cb          *gobreaker.TwoStepCircuitBreaker[struct{}]
	open        atomic.Bool  // mirrors gobreaker's Open state
	openUntil   atomic.Int64 // unix nanos when the open state may turn half-open
	failing     atomic.Int32 // consecutive failures seen, to know when success must be reported
	openTimeout time.Duration
	now         func() time.Time
	// onOpen, if set, is called as an open period begins with the time it
	// ends (the replica arms its wake-up timer). Called under gobreaker's lock.
	onOpen func(until time.Time)
}

func newBreaker(name string, failures uint32, open time.Duration, now func() time.Time) *breaker {
	if failures == 0 {
		failures = 5
	}
	if open <= 0 {
		open = 2 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	b := &breaker{openTimeout: open, now: now}
	b.cb = gobreaker.NewTwoStepCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        name,
		MaxRequests: 1,
		Timeout:     open,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= failures },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			b.open.Store(to == gobreaker.StateOpen)
			if to == gobreaker.StateOpen {
				until := b.now().Add(b.openTimeout)
				b.openUntil.Store(until.UnixNano())
				if b.onOpen != nil {
					b.onOpen(until)
				}
			}
		},
	})
	return b
}

// allows reports whether a request may go to the replica. While the breaker
// is open it says no until the open period has passed; after that it lets
// requests through and the gobreaker's half-open accounting decides.
func (b *breaker) allows() bool {
	if !b.open.Load() {
		return true
	}
	return b.now().UnixNano() >= b.openUntil.Load()
}

// record reports the outcome of one attempt.
func (b *breaker) record(ok bool) {
	if ok && b.failing.Load() == 0 && !b.open.Load() {
		return // the common case: healthy, nothing to tell the gobreaker
	}
	done, err := b.cb.Allow()
	if err != nil {
		return // open or half-open probe already out: the outcome is not counted
	}
	if ok {
		done(nil)
	} else {
		done(errAttemptFailed)
	}
	if ok {
		b.failing.Store(0)
	} else {
		b.failing.Add(1)
	}
}

// tripped reports whether the breaker is open now (for status and metrics).
func (b *breaker) tripped() bool { return b.open.Load() }

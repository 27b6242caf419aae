package deploy

import "time"

// Clock is the controller's time source. Everything the controller times
// goes through it: the passes of the control loop, the crash backoff, the
// autoscaler's delays and the waits between health checks, so that a test
// can drive them without sleeping. (The bounds of single operations, such
// as one health probe's timeout or a drain, run on real time.)
type Clock interface {
	// Now returns the current time.
	Now() time.Time
	// After behaves like time.After.
	After(d time.Duration) <-chan time.Time
	// AfterFunc behaves like time.AfterFunc and returns the timer's Stop.
	// The router's replicas arm their wake-up timers with it (see
	// router.ReplicaOptions.AfterFunc), so they run on the same time as
	// their breakers.
	AfterFunc(d time.Duration, f func()) (stop func() bool)
}

// realClock is the wall clock.
type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }
func (realClock) AfterFunc(d time.Duration, f func()) func() bool {
	return time.AfterFunc(d, f).Stop
}

// passEvery is how often the control loop reconciles when nothing else
// wakes it: often enough for backoffs to end and the autoscaler to sample
// the load on time.
const passEvery = 100 * time.Millisecond

// now is the controller's current time.
func (c *Controller) now() time.Time { return c.clock.Now() }

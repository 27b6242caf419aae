package replica

import "time"

// Defaults for the zero fields of Backoff.
const (
	DefaultBackoffInitial    = 500 * time.Millisecond
	DefaultBackoffMax        = 10 * time.Second
	DefaultBackoffResetAfter = time.Minute
)

// Backoff spaces out the restarts of a replica that keeps crashing: it waits
// Initial after the first crash and twice as long after each crash that
// follows, up to Max. A replica that stayed healthy for ResetAfter before it
// crashed starts again from Initial.
//
// A Backoff carries the crash count of one replica slot; the zero value is
// ready to use. It is not safe for concurrent use.
type Backoff struct {
	// Initial is the wait after the first crash. Default: 0.5s.
	Initial time.Duration
	// Max caps the wait. Default: 10s.
	Max time.Duration
	// ResetAfter is how long a replica must stay healthy for its crashes to
	// be forgotten. Default: 1m.
	ResetAfter time.Duration

	crashes int // in a row, not counting those forgotten
}

// Next records a crash at now and returns how long to wait before starting
// the replica again. healthySince is when the crashed replica became
// healthy; the zero time if it never did.
func (b *Backoff) Next(now, healthySince time.Time) time.Duration {
	if !healthySince.IsZero() && now.Sub(healthySince) >= durationOr(b.ResetAfter, DefaultBackoffResetAfter) {
		b.crashes = 0
	}
	limit := durationOr(b.Max, DefaultBackoffMax)
	d := durationOr(b.Initial, DefaultBackoffInitial)
	for i := 0; i < b.crashes && d < limit; i++ {
		d *= 2
	}
	b.crashes++
	return min(d, limit)
}

// Reset forgets every crash, as when the replica is replaced by a new
// version.
func (b *Backoff) Reset() { b.crashes = 0 }

package router

import (
	"sort"
	"sync/atomic"
	"time"
)

// LatencyBounds are the upper bounds of the latency histogram the router
// keeps per deployment for the dashboard: 100 µs growing by a quarter up to
// about 70 s, then one overflow bucket. Close enough for p50 and p99 at a
// glance, cheap enough to count every request with one atomic add.
var LatencyBounds = latencyBounds()

func latencyBounds() []time.Duration {
	var b []time.Duration
	for v := 100e3; v < 70e9; v *= 1.25 {
		b = append(b, time.Duration(v))
	}
	return b
}

// Stats are a deployment's request counters since it was created. Take two
// and subtract to get rates and the latency of the requests in between.
type Stats struct {
	Requests uint64 // answered requests
	Errors   uint64 // answered with a 5xx status
	// Latency counts requests by LatencyBounds: Latency[i] took at most
	// LatencyBounds[i]; the last entry counts the slower ones.
	Latency []uint64
}

// stats are the counters behind Stats; only atomics, so the request path
// takes no lock.
type stats struct {
	requests atomic.Uint64
	errors   atomic.Uint64
	latency  []atomic.Uint64 // len(LatencyBounds)+1
}

func newStats() *stats { return &stats{latency: make([]atomic.Uint64, len(LatencyBounds)+1)} }

func (s *stats) observe(code int, took time.Duration) {
	s.requests.Add(1)
	if code >= 500 && code != StatusClientClosed {
		s.errors.Add(1)
	}
	i := sort.Search(len(LatencyBounds), func(i int) bool { return LatencyBounds[i] >= took })
	s.latency[i].Add(1)
}

func (s *stats) snapshot() Stats {
	st := Stats{Requests: s.requests.Load(), Errors: s.errors.Load(), Latency: make([]uint64, len(s.latency))}
	for i := range s.latency {
		st.Latency[i] = s.latency[i].Load()
	}
	return st
}

// Stats returns the deployment's counters now.
func (d *Deployment) Stats() Stats { return d.metrics.stats.snapshot() }

// Sub returns the counts of s minus those of an earlier prev; a counter
// that went backwards (a new Deployment) counts from zero.
func (s Stats) Sub(prev Stats) Stats {
	if s.Requests < prev.Requests || len(prev.Latency) != len(s.Latency) {
		return s
	}
	out := Stats{Requests: s.Requests - prev.Requests, Errors: s.Errors - prev.Errors, Latency: make([]uint64, len(s.Latency))}
	for i := range s.Latency {
		out.Latency[i] = s.Latency[i] - prev.Latency[i]
	}
	return out
}

// Quantile estimates the q-quantile (0 < q < 1) of the latencies counted,
// interpolating inside the bucket it falls in; ok is false when none were
// counted.
func (s Stats) Quantile(q float64) (d time.Duration, ok bool) {
	var total uint64
	for _, n := range s.Latency {
		total += n
	}
	if total == 0 {
		return 0, false
	}
	rank := q * float64(total)
	var seen float64
	for i, n := range s.Latency {
		if n == 0 {
			continue
		}
		if seen+float64(n) >= rank {
			lo := time.Duration(0)
			if i > 0 {
				lo = LatencyBounds[i-1]
			}
			hi := lo * 2
			if i < len(LatencyBounds) {
				hi = LatencyBounds[i]
			}
			frac := (rank - seen) / float64(n)
			return lo + time.Duration(frac*float64(hi-lo)), true
		}
		seen += float64(n)
	}
	return LatencyBounds[len(LatencyBounds)-1], true
}

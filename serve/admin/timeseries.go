package admin

import (
	"context"
	"math"
	"sync"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/replica"
	"gantry.dev/gantry/router"
)

// The dashboard's charts are fed from here, in the gateway's own memory, so
// they work without Prometheus: once a second the sampler reads every
// deployment's router counters and keeps the last 15 minutes.
//
// Memory is bounded by design: each deployment has one ring (ring.go) of
// at most SeriesPoints runs of equal 40-byte samples, no pointers, so the
// garbage collector never scans them: at most 40 KB a deployment however
// long the gateway runs, and a few hundred bytes for an idle one, whose
// samples are all alike.

// SeriesPoints is how many samples a deployment's series keeps: 15
// minutes at one a second.
const SeriesPoints = 900

// Point is one second of a deployment, as GET /api/gantry/timeseries
// answers it.
type Point struct {
	// T is the sample's time, Unix seconds (millisecond precision).
	T float64 `json:"t"`
	// RPS is requests answered per second since the previous sample, and
	// ErrorsPS those answered with a 5xx status.
	RPS      float64 `json:"rps"`
	ErrorsPS float64 `json:"errors_ps"`
	// P50Ms, P90Ms and P99Ms are latency percentiles of the requests
	// answered since the previous sample, in milliseconds; null when none were.
	P50Ms *float64 `json:"p50_ms"`
	P90Ms *float64 `json:"p90_ms"`
	P99Ms *float64 `json:"p99_ms"`
	// Queued and Inflight are requests waiting for a replica and being served.
	Queued   int64 `json:"queued"`
	Inflight int64 `json:"inflight"`
	// Replicas counts replicas by state; Running is the RUNNING ones.
	Running  int `json:"running"`
	Replicas int `json:"replicas"`
	Target   int `json:"target"`
}

// Series is one deployment's samples, oldest first.
type Series struct {
	Application string  `json:"application"`
	Deployment  string  `json:"deployment"`
	IntervalS   float64 `json:"interval_s"`
	Points      []Point `json:"points"`
}

// sample is a Point as the ring keeps it: 40 bytes, no pointers. Rates and
// percentiles are float32 (a dashboard needs no more), percentiles NaN when
// there were no requests; counts saturate at their type's maximum.
type sample struct {
	sec                    uint32 // Unix seconds (good until 2106)
	rps, errorsPS          float32
	p50, p90, p99          float32
	queued, inflight       int32
	msec                   uint16
	running, replicas, tgt uint16
}

// Sampler keeps the time series of every deployment.
type Sampler struct {
	// Snapshot returns what the controller observed.
	Snapshot func() *deploy.Snapshot
	// Traffic reads a deployment's queue, in-flight requests and counters
	// now (they are not in the snapshot: they change with every request).
	Traffic func(app, dep string) deploy.Traffic
	// Every is the sampling interval; default 1 s.
	Every time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time

	mu     sync.Mutex
	series map[seriesKey]*ring
	// gen counts Sample calls: a ring not seen in the latest is gone.
	gen uint64
	// delta is reused for each deployment's counters between two samples,
	// so an idle gateway makes little garbage.
	delta router.Stats
}

type seriesKey struct{ app, dep string }

func (k seriesKey) less(o seriesKey) bool {
	if k.app != o.app {
		return k.app < o.app
	}
	return k.dep < o.dep
}

// Run samples every Every until ctx ends.
func (s *Sampler) Run(ctx context.Context) error {
	t := time.NewTicker(s.every())
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			s.Sample()
		}
	}
}

func (s *Sampler) every() time.Duration {
	if s.Every <= 0 {
		return time.Second
	}
	return s.Every
}

// Sample takes one sample of every deployment now; deployments that are
// gone lose their series.
func (s *Sampler) Sample() {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	t := now()
	snap := s.Snapshot()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.series == nil {
		s.series = map[seriesKey]*ring{}
	}
	s.gen++
	stepMs := uint16(min(s.every().Milliseconds(), math.MaxUint16))
	for _, a := range snap.Applications {
		for _, d := range a.Deployments {
			key := seriesKey{d.Application, d.Deployment}
			rg := s.series[key]
			if rg == nil {
				rg = &ring{}
				s.series[key] = rg
			}
			rg.gen = s.gen
			traffic := s.Traffic(d.Application, d.Deployment)
			st := traffic.Stats
			if !rg.prevT.IsZero() { // a rate needs two samples
				rg.add(sampleOf(t, rg.prevT, s.sub(st, rg.prev), d, traffic), stepMs)
			}
			rg.prev, rg.prevT = st, t
		}
	}
	for k, rg := range s.series {
		if rg.gen != s.gen {
			delete(s.series, k)
		}
	}
}

// sub is router.Stats.Sub into s.delta, whose latency slice is reused;
// the result is good until the next call.
func (s *Sampler) sub(st, prev router.Stats) router.Stats {
	if st.Requests < prev.Requests || len(prev.Latency) != len(st.Latency) {
		return st // a new Deployment: counts from zero
	}
	if cap(s.delta.Latency) < len(st.Latency) {
		s.delta.Latency = make([]uint64, len(st.Latency))
	}
	s.delta.Latency = s.delta.Latency[:len(st.Latency)]
	s.delta.Requests, s.delta.Errors = st.Requests-prev.Requests, st.Errors-prev.Errors
	for i := range st.Latency {
		s.delta.Latency[i] = st.Latency[i] - prev.Latency[i]
	}
	return s.delta
}

func sampleOf(t, prevT time.Time, delta router.Stats, d deploy.DeploymentStatus, traffic deploy.Traffic) sample {
	ms := t.UnixMilli()
	p := sample{sec: uint32(ms / 1000), msec: uint16(ms % 1000), queued: sat32(traffic.Queued),
		tgt: sat16(d.Target), replicas: sat16(len(d.Replicas))}
	if secs := t.Sub(prevT).Seconds(); secs > 0 {
		p.rps = float32(float64(delta.Requests) / secs)
		p.errorsPS = float32(float64(delta.Errors) / secs)
	}
	p.p50, p.p90, p.p99 = quantileMs(delta, .5), quantileMs(delta, .9), quantileMs(delta, .99)
	var inflight int64
	running := 0
	for _, r := range d.Replicas {
		inflight += traffic.Inflight[r.ID]
		if r.State == replica.Running {
			running++
		}
	}
	p.inflight, p.running = sat32(inflight), sat16(running)
	return p
}

// quantileMs is delta's q-quantile in milliseconds; NaN when no request was
// answered.
func quantileMs(delta router.Stats, q float64) float32 {
	d, ok := delta.Quantile(q)
	if !ok {
		return float32(math.NaN())
	}
	return float32(float64(d) / 1e6)
}

func sat32(v int64) int32 { return int32(min(max(v, 0), math.MaxInt32)) }
func sat16(v int) uint16  { return uint16(min(max(v, 0), math.MaxUint16)) }

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

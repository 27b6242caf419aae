package admin

import (
	"context"
	"math"
	"sort"
	"sync"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/replica"
	"gantry.dev/gantry/router"
)

// The dashboard's charts are fed from here, in the gateway's own memory, so
// they work without Prometheus: once a second the sampler reads every
// deployment's router counters and keeps the last 15 minutes.

// SeriesPoints is how many samples a deployment's series keeps: 15
// minutes at one a second.
const SeriesPoints = 900

// Point is one second of a deployment.
type Point struct {
	// T is the sample's time, Unix seconds.
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
	series map[[2]string]*ring
}

type ring struct {
	points []Point // a ring once full
	next   int
	prev   router.Stats
	prevT  time.Time
}

// Run samples every Every until ctx ends.
func (s *Sampler) Run(ctx context.Context) error {
	every := s.Every
	if every <= 0 {
		every = time.Second
	}
	t := time.NewTicker(every)
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
		s.series = map[[2]string]*ring{}
	}
	seen := map[[2]string]bool{}
	for _, a := range snap.Applications {
		for _, d := range a.Deployments {
			key := [2]string{d.Application, d.Deployment}
			seen[key] = true
			rg := s.series[key]
			if rg == nil {
				rg = &ring{}
				s.series[key] = rg
			}
			traffic := s.Traffic(d.Application, d.Deployment)
			st := traffic.Stats
			if rg.prevT.IsZero() {
				rg.prev, rg.prevT = st, t
				continue // a rate needs two samples
			}
			rg.add(point(t, rg.prevT, st.Sub(rg.prev), d, traffic))
			rg.prev, rg.prevT = st, t
		}
	}
	for k := range s.series {
		if !seen[k] {
			delete(s.series, k)
		}
	}
}

func point(t, prevT time.Time, delta router.Stats, d deploy.DeploymentStatus, traffic deploy.Traffic) Point {
	p := Point{T: unixSeconds(t), Queued: traffic.Queued, Target: d.Target, Replicas: len(d.Replicas)}
	if secs := t.Sub(prevT).Seconds(); secs > 0 {
		p.RPS = round3(float64(delta.Requests) / secs)
		p.ErrorsPS = round3(float64(delta.Errors) / secs)
	}
	p.P50Ms, p.P90Ms, p.P99Ms = ms(delta.Quantile(.5)), ms(delta.Quantile(.9)), ms(delta.Quantile(.99))

	for _, r := range d.Replicas {
		p.Inflight += traffic.Inflight[r.ID]
		if r.State == replica.Running {
			p.Running++
		}
	}
	return p
}

// ms is d in milliseconds; nil when there is no value.
func ms(d time.Duration, ok bool) *float64 {
	if !ok {
		return nil
	}
	v := round3(float64(d) / 1e6)
	return &v
}

func round3(v float64) float64 { return math.Round(v*1000) / 1000 }

func (rg *ring) add(p Point) {
	if len(rg.points) < SeriesPoints {
		rg.points = append(rg.points, p)
		return
	}
	rg.points[rg.next] = p
	rg.next = (rg.next + 1) % SeriesPoints
}

// Series returns the series of the deployments that match app and dep
// ("" matches any), with at most last points each (0: all), sorted.
func (s *Sampler) Series(app, dep string, last int) []Series {
	s.mu.Lock()
	defer s.mu.Unlock()
	every := s.Every
	if every <= 0 {
		every = time.Second
	}
	out := []Series{}
	for k, rg := range s.series {
		if (app != "" && k[0] != app) || (dep != "" && k[1] != dep) {
			continue
		}
		pts := make([]Point, 0, len(rg.points))
		pts = append(pts, rg.points[rg.next:]...)
		pts = append(pts, rg.points[:rg.next]...)
		if last > 0 && len(pts) > last {
			pts = pts[len(pts)-last:]
		}
		out = append(out, Series{Application: k[0], Deployment: k[1], IntervalS: every.Seconds(), Points: pts})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Application != out[j].Application {
			return out[i].Application < out[j].Application
		}
		return out[i].Deployment < out[j].Deployment
	})
	return out
}

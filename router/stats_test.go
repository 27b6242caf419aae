package router

import (
	"testing"
	"time"
)

func TestStatsQuantilesAndSub(t *testing.T) {
	s := newStats()
	if _, ok := s.snapshot().Quantile(.5); ok {
		t.Error("a quantile of nothing should not be ok")
	}
	for range 90 {
		s.observe(200, 2*time.Millisecond)
	}
	for range 10 {
		s.observe(503, 400*time.Millisecond)
	}
	s.observe(StatusClientClosed, time.Second) // not an error: the client left
	st := s.snapshot()
	if st.Requests != 101 || st.Errors != 10 {
		t.Errorf("requests %d errors %d; want 101 and 10", st.Requests, st.Errors)
	}
	// Buckets are 25% wide: an estimate lands within one bucket of the truth.
	for _, c := range []struct {
		q    float64
		want time.Duration
	}{{.5, 2 * time.Millisecond}, {.95, 400 * time.Millisecond}} {
		got, ok := st.Quantile(c.q)
		if !ok || got < c.want*4/5 || got > c.want*5/4 {
			t.Errorf("Quantile(%v) = %v, %v; want about %v", c.q, got, ok, c.want)
		}
	}
	if got, _ := st.Quantile(.999); got < 800*time.Millisecond {
		t.Errorf("Quantile(.999) = %v; want the 1 s request's bucket", got)
	}
	s.observe(200, 70*time.Second) // beyond the last bound: the overflow bucket
	d := s.snapshot().Sub(st)
	if d.Requests != 1 || d.Errors != 0 || d.Latency[len(LatencyBounds)] != 1 {
		t.Errorf("Sub = %+v; want the one slow request in the overflow bucket", d)
	}
	if reset := st.Sub(s.snapshot()); reset.Requests != st.Requests {
		t.Errorf("a counter that went backwards should count from zero: %+v", reset)
	}
}

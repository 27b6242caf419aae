package autoscale

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

type point struct {
	at   float64 // seconds since t0
	load float64
}

func TestWindowAverage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		period  time.Duration
		samples []point
		at      float64
		want    float64
	}{
		{"empty is 0", 10 * time.Second, nil, 5, 0},
		{"one sample is its value", 10 * time.Second, []point{{0, 3}}, 0, 3},
		{"the last sample holds until now", 10 * time.Second, []point{{0, 2}}, 100, 2},
		{"time-weighted, not per sample", 10 * time.Second,
			// 0 for 9 s, then 10 for 1 s in ten samples: 1, where a mean
			// of the samples would say 100/11.
			[]point{{0, 0}, {9, 10}, {9.1, 10}, {9.2, 10}, {9.3, 10}, {9.4, 10}, {9.5, 10}, {9.6, 10}, {9.7, 10}, {9.8, 10}, {9.9, 10}},
			10, 1},
		{"uneven sampling", 10 * time.Second, []point{{0, 2}, {1, 4}, {7, 1}}, 10, 2.9},
		{"samples older than the period drop out", 10 * time.Second, []point{{0, 100}, {5, 1}}, 20, 1},
		{"the period's start cuts a sample", 10 * time.Second, []point{{0, 4}, {8, 2}}, 12, 3.2},
		{"before a whole period, the time seen so far", 10 * time.Second, []point{{0, 2}, {1, 4}}, 2, 3},
		{"a sample at the same instant replaces", 10 * time.Second, []point{{0, 2}, {0, 6}}, 1, 6},
		{"negative and NaN loads count as 0", 10 * time.Second, []point{{0, -3}, {1, math.NaN()}}, 2, 0},
		{"a zero period is the latest sample", 0, []point{{0, 2}, {1, 5}}, 3, 5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := NewWindow(tc.period)
			for _, p := range tc.samples {
				w.Add(t0.Add(sec(p.at)), p.load)
			}
			if got := w.Average(t0.Add(sec(tc.at))); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("Average = %v, want %v", got, tc.want)
			}
		})
	}
}

// exactMean is the time-weighted mean of samples (held until the next one)
// over [now-period, now], from the first sample at the earliest.
func exactMean(samples []point, now, period float64) float64 {
	var area, covered float64
	for i, p := range samples {
		end := now
		if i+1 < len(samples) {
			end = min(samples[i+1].at, now)
		}
		lo := max(p.at, now-period)
		if end > lo {
			area += p.load * (end - lo)
			covered += end - lo
		}
	}
	return area / covered
}

func TestWindowMatchesExactMean(t *testing.T) {
	for _, tc := range []struct {
		name     string
		every    func(r *rand.Rand) float64 // seconds to the next sample
		adds     int
		tolerant float64
	}{
		// Samples at least period/256 apart are kept one by one: exact.
		{"irregular samples 50-250 ms apart", func(r *rand.Rand) float64 { return 0.05 + 0.2*r.Float64() }, 6000, 1e-9},
		// Closer samples are folded together; only the piece the period's
		// start cuts is prorated: within 1/256 of the load's range.
		{"a sample every 1-3 ms", func(r *rand.Rand) float64 { return 0.001 + 0.002*r.Float64() }, 200000, 10.0 / windowSegments},
	} {
		t.Run(tc.name, func(t *testing.T) {
			const period = 10.0
			r := rand.New(rand.NewPCG(3, 3))
			w := NewWindow(sec(period))
			var samples []point
			at, most, worst := 0.0, 0, 0.0
			for i := range tc.adds {
				at += tc.every(r)
				load := 10 * r.Float64()
				if i%500 < 100 {
					load = 0 // stretches of idle, so the mean moves
				}
				samples = append(samples, point{math.Round(at*1e9) / 1e9, load})
				w.Add(t0.Add(sec(at)), load)
				most = max(most, len(w.pieces))
				if i%997 == 0 {
					now := at + 0.5*r.Float64()
					got, want := w.Average(t0.Add(sec(now))), exactMean(samples, now, period)
					worst = max(worst, math.Abs(got-want))
					if math.Abs(got-want) > tc.tolerant {
						t.Fatalf("after %d samples: Average = %v, exact %v", i+1, got, want)
					}
				}
			}
			if most > windowSegments+2 {
				t.Errorf("kept up to %d pieces; want at most %d", most, windowSegments+2)
			}
			t.Logf("%d samples over %.0fs: at most %d pieces kept, largest error %.2g", tc.adds, at, most, worst)
		})
	}
}

func TestWindowMaxAndMinOverThePeriod(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	w := NewWindow(10 * time.Second)
	if w.Max(t0) != 0 || w.Min(t0) != 0 {
		t.Fatal("an empty window has a max or min")
	}
	for i, load := range []float64{2, 9, 4, 1, 3} { // one sample a second
		w.Add(at(float64(i)), load)
	}
	if got := w.Max(at(5)); got != 9 {
		t.Errorf("Max = %v, want 9", got)
	}
	if got := w.Min(at(5)); got != 1 {
		t.Errorf("Min = %v, want 1", got)
	}
	// 12 s later the 9 and the 1 have left the 10 s period; 3 holds on.
	w.Add(at(13), 5)
	if got, want := w.Max(at(14)), 5.0; got != want {
		t.Errorf("Max after the peak left the period = %v, want %v", got, want)
	}
	if got, want := w.Min(at(14)), 3.0; got != want {
		t.Errorf("Min after the trough left the period = %v, want %v", got, want)
	}
}

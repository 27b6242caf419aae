package autoscale

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// call is one tick for play: Decide at a time with a target (and as many
// running), a load, and the target it should answer.
type call struct {
	at     float64 // seconds since t0
	target int
	load   float64
	want   int
}

// play calls Decide for each call in turn, carrying the State.
func play(t *testing.T, cfg Config, calls []call) {
	t.Helper()
	var st State
	for _, c := range calls {
		var d Decision
		d, st = Decide(cfg, Input{Now: t0.Add(sec(c.at)), Running: c.target, Target: c.target, Load: c.load}, st)
		if d.Target != c.want {
			t.Fatalf("at %gs with target %d and load %g: target %d, want %d (%s)", c.at, c.target, c.load, d.Target, c.want, d.Reason)
		}
	}
}

// decideOnce is Decide from the zero State.
func decideOnce(cfg Config, in Input) Decision {
	if in.Now.IsZero() {
		in.Now = t0
	}
	d, _ := Decide(cfg, in, State{})
	return d
}

// TestDecideStepsWaitForTheirDelays runs the controller's 100 ms loop over
// load steps. After a change the next wish is first seen on the next tick,
// so a second step comes 100 ms after a full delay.
func TestDecideStepsWaitForTheirDelays(t *testing.T) {
	for _, tc := range []struct {
		name    string
		cfg     Config
		initial int
		load    func(time.Duration) float64
		end     time.Duration
		want    []change
	}{
		{"step up after upscale delay", config(), 2, loads(4, 60, 8), 5 * time.Minute,
			[]change{{90 * time.Second, 4}}},
		{"step down after downscale delay", config(), 4, loads(8, 60, 4), 15 * time.Minute,
			[]change{{660 * time.Second, 2}}},
		{"idle goes to min after downscale delay", config(), 4, loads(8, 60, 0.5), 15 * time.Minute,
			[]change{{660 * time.Second, 1}}},
		{"zero delay acts on the first tick", with(config(), func(c *Config) { c.UpscaleDelay = 0 }), 2, loads(4, 60, 8), 5 * time.Minute,
			[]change{{60 * time.Second, 4}}},
		{"damped steps each wait the delay", with(config(), func(c *Config) { c.UpscalingFactor = 0.5 }), 2, loads(16), 5 * time.Minute,
			[]change{{30 * time.Second, 5}, {sec(60.1), 7}, {sec(90.2), 8}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (sim{cfg: tc.cfg}).run(tc.initial, tc.end, tc.load); !sameChanges(got, tc.want) {
				t.Errorf("changes %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecideTimerResets(t *testing.T) {
	cfg := with(config(), func(c *Config) { c.UpscaleDelay, c.DownscaleDelay = 10*time.Second, 60*time.Second })
	for _, tc := range []struct {
		name    string
		initial int
		load    func(time.Duration) float64
		want    []change
	}{
		{"a wish to go down restarts the upscale timer", 2, loads(8, 5, 2, 6, 8),
			[]change{{16 * time.Second, 4}}},
		{"one steady tick restarts the upscale timer", 2, loads(8, 5, 4, 5.1, 8),
			[]change{{sec(15.1), 4}}},
		{"a wish to go up restarts the downscale timer", 4, loads(2, 30, 10, 31, 2),
			[]change{{91 * time.Second, 1}}},
		{"a bigger wish keeps its timer and gets the count wanted now", 2, loads(6, 5, 10),
			[]change{{10 * time.Second, 5}}},
		{"a smaller wish keeps its timer and gets the count wanted now", 2, loads(10, 5, 6),
			[]change{{10 * time.Second, 3}}},
		{"a smaller downscale keeps its timer", 6, loads(2, 30, 6),
			[]change{{60 * time.Second, 3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (sim{cfg: cfg}).run(tc.initial, 5*time.Minute, tc.load); !sameChanges(got, tc.want) {
				t.Errorf("changes %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("a target changed by the controller restarts the timer", func(t *testing.T) {
		play(t, cfg, []call{
			{0, 2, 8, 2},
			{5, 3, 8, 3}, // the controller moved to 3 on its own; load still wants 4
			{10, 3, 8, 3},
			{14.9, 3, 8, 3},
			{15, 3, 8, 4},
		})
	})
}

// TestDecideDelaysAreWallClock is Ray #62004: delays are time, not a count
// of control-loop iterations.
func TestDecideDelaysAreWallClock(t *testing.T) {
	t.Run("a stalled loop does not stretch the delay", func(t *testing.T) {
		play(t, config(), []call{{0, 2, 8, 2}, {45, 2, 8, 4}})
	})
	t.Run("a fast loop does not shorten it", func(t *testing.T) {
		var calls []call
		for ms := 0; ms < 30000; ms += 7 {
			calls = append(calls, call{float64(ms) / 1000, 2, 8, 2})
		}
		play(t, config(), append(calls, call{30, 2, 8, 4}))
	})
	t.Run("a clock that steps back restarts the timer from then", func(t *testing.T) {
		play(t, config(), []call{{100, 2, 8, 2}, {50, 2, 8, 2}, {79.9, 2, 8, 2}, {80, 2, 8, 4}})
	})
}

func TestDecideBoundsAndCeiling(t *testing.T) {
	now := with(config(), func(c *Config) { c.UpscaleDelay, c.DownscaleDelay = 0, 0 })
	for _, tc := range []struct {
		name   string
		cfg    Config
		in     Input
		want   int
		reason string
	}{
		{"max caps the formula", now, Input{Running: 2, Target: 2, Load: 100}, 10, "wants 10 (the formula says 50; max_replicas is 10)"},
		{"ceiling caps below max", now, Input{Running: 2, Target: 2, Load: 100, Ceiling: 3}, 3, "only 3 can be had now"},
		{"ceiling 0 is no limit", now, Input{Running: 2, Target: 2, Load: 12}, 6, "wants 6"},
		{"ceiling above max leaves max", now, Input{Running: 2, Target: 2, Load: 100, Ceiling: 20}, 10, "max_replicas is 10"},
		{"min holds when idle", with(now, func(c *Config) { c.MinReplicas = 2 }), Input{Running: 5, Target: 5}, 2, "min_replicas is 2"},
		{"ceiling beats min", with(now, func(c *Config) { c.MinReplicas = 4 }), Input{Running: 2, Target: 2, Ceiling: 2}, 2, "steady at 2"},
		{"target over max moves at once", config(), Input{Running: 12, Target: 12, Load: 100}, 10, "target 12 → 10 at once: max_replicas is 10"},
		{"target over the ceiling moves at once", config(), Input{Running: 5, Target: 5, Load: 10, Ceiling: 3}, 3, "target 5 → 3 at once: only 3 can be had now"},
		{"target under min moves at once", with(config(), func(c *Config) { c.MinReplicas = 3 }), Input{Running: 1, Target: 1}, 3, "target 1 → 3 at once: min_replicas is 3"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decideOnce(tc.cfg, tc.in)
			if d.Target != tc.want || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("target %d (%q), want %d (%q)", d.Target, d.Reason, tc.want, tc.reason)
			}
		})
	}
}

func TestDecideFloor(t *testing.T) {
	now := with(config(), func(c *Config) { c.UpscaleDelay, c.DownscaleDelay, c.DownscaleToZeroDelay = 0, 0, 0 })
	for _, tc := range []struct {
		name   string
		cfg    Config
		in     Input
		want   int
		reason string
	}{
		{"floor stops a downscale", now, Input{Running: 4, Target: 4, Floor: 3}, 3, "a rollout needs 3"},
		{"floor raises the target at once", config(), Input{Running: 2, Target: 2, Load: 4, Floor: 3}, 3, "target 2 → 3 at once: a rollout needs 3"},
		{"floor beats max", with(config(), func(c *Config) { c.MaxReplicas = 4 }), Input{Running: 4, Target: 4, Load: 8, Floor: 5}, 5, "a rollout needs 5"},
		{"floor beats the ceiling", now, Input{Running: 3, Target: 3, Load: 8, Ceiling: 2, Floor: 3}, 3, "steady at 3"},
		{"floor stops scaling to zero", with(now, func(c *Config) { c.MinReplicas = 0 }), Input{Running: 1, Target: 1, Floor: 1}, 1, "steady at 1"},
		{"floor does not stop scaling up", now, Input{Running: 3, Target: 3, Load: 20, Floor: 3}, 10, "wants 10"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decideOnce(tc.cfg, tc.in)
			if d.Target != tc.want || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("target %d (%q), want %d (%q)", d.Target, d.Reason, tc.want, tc.reason)
			}
		})
	}
}

// TestDecideScalesToZeroFromOneOnly: 1 → 0 waits downscale_to_zero_delay;
// from more, the target goes to 1 first (downscale_delay), then to 0, its
// timer starting on the tick after the first step.
func TestDecideScalesToZeroFromOneOnly(t *testing.T) {
	cfg := with(config(), func(c *Config) {
		c.MinReplicas, c.DownscaleDelay, c.DownscaleToZeroDelay = 0, 60*time.Second, 300*time.Second
	})
	for _, tc := range []struct {
		name    string
		cfg     Config
		initial int
		load    func(time.Duration) float64
		want    []change
	}{
		{"1 → 0 waits its own delay", cfg, 1, loads(0),
			[]change{{300 * time.Second, 0}}},
		{"2 → 0 goes via 1", cfg, 2, loads(0),
			[]change{{60 * time.Second, 1}, {sec(360.1), 0}}},
		{"5 → 0 goes via 1", cfg, 5, loads(0),
			[]change{{60 * time.Second, 1}, {sec(360.1), 0}}},
		{"a to-zero delay shorter than the downscale delay", with(cfg, func(c *Config) { c.DownscaleToZeroDelay = 10 * time.Second }), 2, loads(0),
			[]change{{60 * time.Second, 1}, {sec(70.1), 0}}},
		{"light load cancels the wish", cfg, 1, loads(0, 200, 0.5, 250, 0),
			[]change{{550 * time.Second, 0}}},
		{"min 1 never reaches 0", with(cfg, func(c *Config) { c.MinReplicas = 1 }), 2, loads(0),
			[]change{{60 * time.Second, 1}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := (sim{cfg: tc.cfg}).run(tc.initial, 10*time.Minute, tc.load); !sameChanges(got, tc.want) {
				t.Errorf("changes %v, want %v", got, tc.want)
			}
		})
	}
}

func TestDecideColdStart(t *testing.T) {
	zero := with(config(), func(c *Config) { c.MinReplicas = 0 })
	for _, tc := range []struct {
		name   string
		cfg    Config
		in     Input
		want   int
		reason string
	}{
		{"a queued request starts one at once", zero, Input{Queued: 1}, 1, "cold start: load 0 and 1 queued with 0 replicas running; scaling 0 → 1 at once"},
		{"load in the window starts one", zero, Input{Load: 0.3}, 1, "cold start"},
		{"a flood starts one, not max", zero, Input{Load: 500, Queued: 500}, 1, "scaling 0 → 1"},
		{"upscaling factor 2 starts two", with(zero, func(c *Config) { c.UpscalingFactor = 2 }), Input{Queued: 3}, 2, "scaling 0 → 2"},
		{"upscaling factor 0.5 starts one", with(zero, func(c *Config) { c.UpscalingFactor = 0.5 }), Input{Queued: 3}, 1, "scaling 0 → 1"},
		{"no runaway while the first one starts", zero, Input{Target: 1, Load: 500, Queued: 500}, 1, "waiting for 1 replica to start"},
		{"a request while the last one drains", zero, Input{Running: 1, Queued: 1}, 1, "cold start"},
		{"the ceiling holds", with(zero, func(c *Config) { c.UpscalingFactor = 3 }), Input{Queued: 1, Ceiling: 2}, 2, "scaling 0 → 2"},
		{"idle at zero stays at zero", zero, Input{}, 0, "steady at 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decideOnce(tc.cfg, tc.in)
			if d.Target != tc.want || !strings.Contains(d.Reason, tc.reason) {
				t.Errorf("target %d (%q), want %d (%q)", d.Target, d.Reason, tc.want, tc.reason)
			}
			if wantDir := sign(tc.want - tc.in.Target); d.Direction != wantDir {
				t.Errorf("direction %d, want %d", d.Direction, wantDir)
			}
		})
	}
	t.Run("from zero and back", func(t *testing.T) {
		// Load arrives at 10 s; the first replica serves at 15 s, and only
		// then does the formula (upscale delay 1 s) ask for a second.
		c := with(zero, func(c *Config) { c.UpscaleDelay = time.Second })
		want := []change{{10 * time.Second, 1}, {16 * time.Second, 2}}
		if got := (sim{cfg: c, startup: 5 * time.Second}).run(0, time.Minute, loads(0, 10, 3)); !sameChanges(got, want) {
			t.Errorf("changes %v, want %v", got, want)
		}
	})
}

func TestDecideReasons(t *testing.T) {
	cfg := with(config(), func(c *Config) { c.UpscaleDelay = time.Second })
	for _, tc := range []struct {
		name  string
		calls []Input
		want  string
	}{
		{"upscale", []Input{{Running: 2, Target: 2, Load: 7.8}, {Now: t0.Add(time.Second), Running: 2, Target: 2, Load: 7.8}},
			"load 7.8 over 2 replicas (target 2 per replica) wants 4; upscale delay 1s passed"},
		{"waiting to downscale", []Input{{Running: 3, Target: 3, Load: 3.5}, {Now: t0.Add(12 * time.Second), Running: 3, Target: 3, Load: 3.5}},
			"holding at 3: load 3.5 over 3 replicas (target 2 per replica) wants 2; downscale delay 600s not passed (12s so far)"},
		{"steady", []Input{{Running: 3, Target: 3, Load: 5.2}},
			"steady at 3: load 5.2 over 3 replicas (target 2 per replica)"},
		{"replicas starting", []Input{{Running: 2, Target: 4, Load: 7.8}},
			"steady at 4: load 7.8 over 4 replicas (2 running, target 2 per replica)"},
		{"to zero via one", []Input{{Running: 3, Target: 3}},
			"holding at 3: load 0 over 3 replicas (target 2 per replica) wants 1 (0 only from 1); downscale delay 600s not passed (0s so far)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := cfg
			if tc.name == "to zero via one" {
				c.MinReplicas = 0
			}
			var st State
			var d Decision
			for _, in := range tc.calls {
				if in.Now.IsZero() {
					in.Now = t0
				}
				d, st = Decide(c, in, st)
			}
			if d.Reason != tc.want {
				t.Errorf("reason %q\nwant   %q", d.Reason, tc.want)
			}
		})
	}
}

// TestDecideStaysWithinBounds checks, over random observations, what must
// hold whatever the load: the limits, the floor, zero only from one, no
// runaway cold start, and a direction that matches the move.
func TestDecideStaysWithinBounds(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for i := range 20000 {
		cfg := Config{
			MinReplicas: r.IntN(3), MaxReplicas: 1 + r.IntN(12),
			TargetOngoingRequests: 0.5 + 3*r.Float64(),
			UpscaleDelay:          time.Duration(r.IntN(3)) * time.Second,
			DownscaleDelay:        time.Duration(r.IntN(3)) * time.Second,
			DownscaleToZeroDelay:  time.Duration(r.IntN(3)) * time.Second,
			UpscalingFactor:       0.2 + 2*r.Float64(), DownscalingFactor: 0.2 + 2*r.Float64(),
		}
		cfg.MinReplicas = min(cfg.MinReplicas, cfg.MaxReplicas)
		in := Input{
			Now: t0.Add(time.Duration(r.IntN(5)) * time.Second), Running: r.IntN(15), Target: r.IntN(15),
			Queued: r.IntN(3) * r.IntN(50), Ceiling: r.IntN(3) * r.IntN(10), Floor: r.IntN(2) * r.IntN(6),
		}
		if r.IntN(4) > 0 {
			in.Load = 40 * r.Float64() * r.Float64()
		}
		var st State
		if r.IntN(2) == 0 {
			_, st = Decide(cfg, Input{Now: t0, Running: in.Running, Target: in.Target, Load: in.Load}, State{})
		}
		d, _ := Decide(cfg, in, st)

		hi := cfg.MaxReplicas
		if in.Ceiling > 0 {
			hi = min(hi, in.Ceiling)
		}
		lo := min(cfg.MinReplicas, hi)
		var bad []string
		if d.Target < in.Floor {
			bad = append(bad, "below the floor")
		}
		if d.Target > max(hi, in.Floor) {
			bad = append(bad, "above max, ceiling and floor")
		}
		if d.Target < lo {
			bad = append(bad, "below min")
		}
		if d.Target == 0 && in.Target > 1 {
			bad = append(bad, "to zero from more than one")
		}
		if (in.Running == 0 || in.Target == 0) && d.Target > max(in.Target, coldStart(cfg), lo, in.Floor) {
			bad = append(bad, "cold start beyond one step")
		}
		if d.Direction != sign(d.Target-in.Target) {
			bad = append(bad, "direction does not match the move")
		}
		if d.Reason == "" {
			bad = append(bad, "no reason")
		}
		if len(bad) > 0 {
			t.Fatalf("case %d: %v\ncfg %+v\nin %+v\n→ %+v", i, bad, cfg, in, d)
		}
	}
}

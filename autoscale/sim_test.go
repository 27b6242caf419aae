package autoscale

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// t0 is the fake clock's origin.
var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

const tick = 100 * time.Millisecond

func sec(s float64) time.Duration { return time.Duration(math.Round(s * float64(time.Second))) }

// config is Ray's defaults with target 2 per replica and room to scale.
func config() Config {
	return Config{
		MinReplicas: 1, MaxReplicas: 10, InitialReplicas: 1,
		TargetOngoingRequests: 2,
		UpscaleDelay:          30 * time.Second, DownscaleDelay: 600 * time.Second, DownscaleToZeroDelay: 600 * time.Second,
		UpscalingFactor: 1, DownscalingFactor: 1,
		LookBackPeriod: 30 * time.Second,
	}
}

// with returns cfg changed by f, for tables.
func with(cfg Config, f func(*Config)) Config {
	f(&cfg)
	return cfg
}

// loads is a load that steps: loads(4, 60, 8) is 4 until 60 s, then 8.
// Arguments after the first come in pairs: seconds, load.
func loads(first float64, steps ...float64) func(time.Duration) float64 {
	return func(d time.Duration) float64 {
		l := first
		for i := 0; i+1 < len(steps); i += 2 {
			if d >= sec(steps[i]) {
				l = steps[i+1]
			}
		}
		return l
	}
}

// noise is a load uniform in [mean-amp, mean+amp], drawing a new value
// every hold, the same for the same seed.
func noise(seed uint64, mean, amp float64, hold time.Duration) func(time.Duration) float64 {
	return func(d time.Duration) float64 {
		k := d / hold
		if d < 0 && d%hold != 0 {
			k--
		}
		r := rand.New(rand.NewPCG(seed, uint64(k)))
		return mean + amp*(2*r.Float64()-1)
	}
}

// change is the target the policy set at a time since t0.
type change struct {
	at     time.Duration
	target int
}

func (c change) String() string { return fmt.Sprintf("%v→%d", c.at, c.target) }

// sim drives Decide like the controller: a tick every 100 ms, a target the
// controller adopts at once, new replicas that serve startup after they are
// asked for, removed replicas that stop at once.
type sim struct {
	cfg     Config
	startup time.Duration
	// window feeds the load through a Window of cfg.LookBackPeriod;
	// otherwise Decide sees each tick's load as it is.
	window bool
	// warm feeds the Window for one look-back period before the first
	// decision, as if the deployment had served the load for a while.
	warm bool
}

// run simulates from 0 to end starting at initial replicas, and returns
// every change of target.
func (s sim) run(initial int, end time.Duration, load func(time.Duration) float64) []change {
	target, running := initial, initial
	var starting []time.Duration // when each replica asked for serves
	var st State
	var w *Window
	from := time.Duration(0)
	if s.window {
		w = NewWindow(s.cfg.LookBackPeriod)
		if s.warm {
			from = -s.cfg.LookBackPeriod
		}
	}
	var changes []change
	for now := from; now <= end; now += tick {
		l := load(now)
		if w != nil {
			w.Add(t0.Add(now), l)
			l = w.Average(t0.Add(now))
		}
		if now < 0 {
			continue
		}
		for len(starting) > 0 && starting[0] <= now {
			starting, running = starting[1:], running+1
		}
		d, next := Decide(s.cfg, Input{Now: t0.Add(now), Running: running, Target: target, Load: l}, st)
		st = next
		if d.Target == target {
			continue
		}
		changes = append(changes, change{now, d.Target})
		target = d.Target
		for running+len(starting) < target {
			starting = append(starting, now+s.startup)
		}
		for running+len(starting) > target {
			if len(starting) > 0 {
				starting = starting[:len(starting)-1]
			} else {
				running--
			}
		}
	}
	return changes
}

func sameChanges(a, b []change) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// TestDecideSteadyLoadHoldsSteady runs 10 minutes of constant load through
// a Window, with replicas that take 3 s to start, and checks the target
// settles on ceil(load / target) within a minute and never moves again,
// and that a deployment already there never moves.
func TestDecideSteadyLoadHoldsSteady(t *testing.T) {
	fast := with(config(), func(c *Config) { c.UpscaleDelay, c.DownscaleDelay = time.Second, 10*time.Second })
	for _, tc := range []struct {
		name string
		cfg  Config
		load float64
		want int
	}{
		{"Ray defaults", config(), 7, 4},
		{"load on a boundary", fast, 8, 4},
		{"just under a boundary", fast, 3.99, 2},
		{"light load stays at min", fast, 0.5, 1},
		{"damped both ways", with(fast, func(c *Config) { c.UpscalingFactor, c.DownscalingFactor = 0.5, 0.5 }), 7, 4},
		{"overshooting upscale settles", with(fast, func(c *Config) { c.UpscalingFactor = 2 }), 7, 4},
		{"overshoot with damped downscale", with(fast, func(c *Config) { c.UpscalingFactor, c.DownscalingFactor = 2, 0.5 }), 7, 4},
		{"capped by max", with(fast, func(c *Config) { c.MaxReplicas = 3 }), 7, 3},
		{"zero delays", with(fast, func(c *Config) { c.UpscaleDelay, c.DownscaleDelay = 0, 0 }), 13, 7},
		{"fractional target", with(fast, func(c *Config) { c.TargetOngoingRequests = 0.7 }), 5, 8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := sim{cfg: tc.cfg, startup: 3 * time.Second, window: true}
			changes := s.run(tc.cfg.MinReplicas, 10*time.Minute, loads(tc.load))
			final := tc.cfg.MinReplicas
			if len(changes) > 0 {
				last := changes[len(changes)-1]
				final = last.target
				if last.at > time.Minute {
					t.Errorf("still changing after a minute: %v", changes)
				}
			}
			if final != tc.want {
				t.Errorf("settled at %d, want %d (changes %v)", final, tc.want, changes)
			}
			for i, c := range changes {
				if c.target == tc.want && i != len(changes)-1 {
					t.Errorf("moved again after reaching %d: %v", tc.want, changes)
					break
				}
			}
			if len(changes) > 3 {
				t.Errorf("%d changes at constant load: %v", len(changes), changes)
			}
			if again := s.run(tc.want, 10*time.Minute, loads(tc.load)); len(again) > 0 {
				t.Errorf("starting at %d, the target moved: %v", tc.want, again)
			}
		})
	}
}

// TestDecideNoisyLoadDoesNotFlap is Ray #18925 and #26455: delays shorter
// than the look-back period and a load whose samples keep crossing the
// threshold (4 requests: 2 replicas below, 3 above). Averaged over the
// window the load stays below it, so the target must never move. The last
// case feeds the same load without a window to show the noise is enough to
// flap a policy that reads raw samples.
func TestDecideNoisyLoadDoesNotFlap(t *testing.T) {
	short := with(config(), func(c *Config) {
		c.UpscaleDelay, c.DownscaleDelay, c.LookBackPeriod = time.Second, 2*time.Second, 10*time.Second
	})
	slow := with(short, func(c *Config) { c.LookBackPeriod = 30 * time.Second })
	for _, tc := range []struct {
		name   string
		cfg    Config
		load   func(time.Duration) float64
		window bool
		flaps  bool
	}{
		{"fresh noise every sample, 10 s window", short, noise(1, 3.5, 2, tick), true, false},
		{"noise held 1 s, 30 s window", slow, noise(2, 3, 2, time.Second), true, false},
		{"noise held 1 s, no window", slow, noise(2, 3, 2, time.Second), false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			over := 0
			for d := time.Duration(0); d < 10*time.Minute; d += tick {
				if Desired(2, tc.load(d), tc.cfg) != 2 {
					over++
				}
			}
			if frac := float64(over) / float64(10*time.Minute/tick); frac < 0.2 {
				t.Fatalf("raw samples want another count only %.0f%% of the time; the load is not noisy enough to test", 100*frac)
			}
			s := sim{cfg: tc.cfg, startup: 2 * time.Second, window: tc.window, warm: true}
			changes := s.run(2, 10*time.Minute, tc.load)
			switch {
			case !tc.flaps && len(changes) > 0:
				t.Errorf("flapped %d times: %v", len(changes), changes)
			case tc.flaps && len(changes) < 10:
				t.Errorf("without a window the target changed only %d times; want >= 10", len(changes))
			}
			t.Logf("%d changes in 10 min", len(changes))
		})
	}
}

// TestDecideFollowsStepThroughWindow is the acceptance scenario at the
// policy level: 8 clients arrive at an idle deployment at 60 s and leave at
// 120 s (target 1 per replica, max 4, upscale delay 1 s, downscale 5 s,
// replicas serve 1 s after they are asked for). The window's mean ramps, so
// how fast the target follows depends on look_back_period_s. Each step
// waits its own delay from the moment the wish began, then goes to what the
// mean wants at that moment, which may skip counts.
func TestDecideFollowsStepThroughWindow(t *testing.T) {
	cfg := with(config(), func(c *Config) {
		c.TargetOngoingRequests, c.MaxReplicas, c.UpscaleDelay, c.DownscaleDelay = 1, 4, time.Second, 5*time.Second
	})
	for _, tc := range []struct {
		lookBack time.Duration
		want     []change
	}{
		// t s after the step up the mean is 8t/30: it passes 1, 2, 3
		// at 3.75, 7.5 and 11.25 s, and each wish waits 1 s. After the
		// step down it is 8(30-t)/30: below 3 at 18.75 s, when the
		// wish to go down begins; 5 s later the mean wants 2; below 1 at
		// 26.25 s, and 5 s later the target is 1.
		{30 * time.Second, []change{{sec(64.8), 2}, {sec(68.6), 3}, {sec(72.3), 4}, {sec(143.8), 2}, {sec(151.3), 1}}},
		// The mean is 8t/3: it wants 2 at 60.4 s and 4 a second later;
		// after the step down it wants 3 at 121.9 s, 1 at 126.9 s.
		{3 * time.Second, []change{{sec(61.4), 4}, {sec(126.9), 1}}},
	} {
		t.Run(tc.lookBack.String(), func(t *testing.T) {
			c := cfg
			c.LookBackPeriod = tc.lookBack
			s := sim{cfg: c, startup: time.Second, window: true, warm: true}
			got := s.run(1, 180*time.Second, loads(0, 60, 8, 120, 0))
			if !sameChanges(got, tc.want) {
				t.Errorf("changes %v, want %v", got, tc.want)
			}
		})
	}
}

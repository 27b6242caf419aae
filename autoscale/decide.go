package autoscale

import (
	"fmt"
	"math"
	"strconv"
	"time"
)

// Input is one observation, taken by the controller on each tick.
type Input struct {
	// Now is the controller's clock, injected so tests are deterministic.
	// Delays are measured on it, never by counting ticks (Ray #62004).
	Now time.Time
	// Running is how many replicas serve now.
	Running int
	// Target is the count the controller works toward. The controller is
	// expected to adopt each Decision.Target as its next Target.
	Target int
	// Load is in-flight plus queued requests averaged over the look-back
	// period (Window.Average).
	Load float64
	// Queued is how many requests wait right now. With nothing running, one
	// is enough to start a replica at once, even before Load shows it.
	Queued int
	// Ceiling is the most replicas the deployment can get now (free
	// accelerator slices plus the replicas it owns); 0 means no limit but
	// MaxReplicas. It beats MinReplicas.
	Ceiling int
	// Floor is how many replicas a rollout in progress needs; no decision
	// goes below it, whatever MaxReplicas and Ceiling say.
	Floor int
}

// State is what Decide carries from one call to the next: the direction of
// the wish being timed, since when, and the target it was timed against.
// The zero value is ready; the controller keeps one per deployment and
// passes back the one Decide returned.
type State struct {
	dir    int
	since  time.Time
	target int
}

// Decision is what the target should be and why.
type Decision struct {
	// Target is the replica count to work toward; Input.Target when holding.
	Target int
	// Wanted is what the policy asks for with bounds applied but no delay;
	// it differs from Target while a wish waits out its delay.
	Wanted int
	// Direction is +1 when Target rises, -1 when it falls, 0 when it holds.
	Direction int
	// Reason is a sentence for logs and events.
	Reason string
}

// Decide is Ray Serve's default autoscaling policy with its delays measured
// on the wall clock. It is pure: the controller calls it on every tick with
// what it observes and the State the previous call returned.
//
//   - Cold start: with nothing running (or a target of 0) and any load or
//     queued request, the target rises at once, without a delay, to
//     max(Target, 1, ceil(UpscalingFactor)); while nothing runs it rises no
//     further, whatever the queue (Ray PR #61731). This is the only use of
//     Running. (Ray also holds a target with nothing running and no load;
//     here the formula applies, with its delays, so a replica that never
//     starts is not kept for ever.)
//   - Bounds: the target stays within [MinReplicas, MaxReplicas], capped by
//     Ceiling when set, and never below Floor. A target outside them moves
//     at once.
//   - Otherwise Desired (measured against Target) says what load wants. A
//     wish to scale up is acted on when it has lasted UpscaleDelay, down
//     DownscaleDelay, 1 → 0 DownscaleToZeroDelay; the new target is what
//     load wants at that moment. Zero is reached only from 1 and only with
//     MinReplicas 0: from more, a wish for 0 is a wish for 1.
//
// The timer restarts whenever the wish changes direction, including to no
// wish at all (a tick where load wants exactly Target), and whenever Target
// changes, whether by this policy or anyone else: each step waits its full
// delay. A wish that changes size but not direction keeps its timer.
func Decide(cfg Config, in Input, st State) (Decision, State) {
	lim := limitsOf(cfg, in)
	load := in.Load
	if !(load > 0) {
		load = 0
	}

	if (in.Running <= 0 || in.Target <= 0) && (load > 0 || in.Queued > 0) {
		want := lim.clamp(max(in.Target, coldStart(cfg)))
		switch {
		case want > in.Target:
			return Decision{Target: want, Wanted: want, Direction: +1, Reason: fmt.Sprintf(
				"cold start: load %s and %d queued with %s running; scaling %d → %d at once",
				fmtLoad(load), in.Queued, replicas(in.Running), in.Target, want)}, State{}
		case want == in.Target && want > 0:
			return Decision{Target: want, Wanted: want, Reason: fmt.Sprintf(
				"waiting for %s to start: load %s and %d queued with none running",
				replicas(want), fmtLoad(load), in.Queued)}, State{}
		}
		// want < Target: Target is over the limit, handled below.
	}

	if b := lim.clamp(in.Target); b != in.Target {
		return Decision{Target: b, Wanted: b, Direction: sign(b - in.Target), Reason: fmt.Sprintf(
			"target %d → %d at once: %s", in.Target, b, lim.why(in.Target, b))}, State{}
	}

	raw := desired(in.Target, load, cfg)
	want := raw
	if want == 0 && in.Target > 1 {
		want = 1
	}
	want = lim.clamp(want)
	wants := describe(in, load, cfg, raw, want, lim)

	dir := sign(want - in.Target)
	if dir == 0 {
		return Decision{Target: in.Target, Wanted: want, Reason: fmt.Sprintf(
			"steady at %d: %s", in.Target, wants)}, State{}
	}
	if st.dir != dir || st.target != in.Target || in.Now.Before(st.since) {
		st = State{dir: dir, since: in.Now, target: in.Target}
	}
	delay, name := cfg.UpscaleDelay, "upscale delay"
	if dir < 0 {
		delay, name = cfg.DownscaleDelay, "downscale delay"
		if want == 0 {
			delay, name = cfg.DownscaleToZeroDelay, "downscale-to-zero delay"
		}
	}
	if waited := in.Now.Sub(st.since); waited < delay {
		return Decision{Target: in.Target, Wanted: want, Reason: fmt.Sprintf(
			"holding at %d: %s; %s %s not passed (%s so far)",
			in.Target, wants, name, fmtDur(delay), fmtDur(waited))}, st
	}
	return Decision{Target: want, Wanted: want, Direction: dir, Reason: fmt.Sprintf(
		"%s; %s %s passed", wants, name, fmtDur(delay))}, State{}
}

// limits are the bounds of one decision: [lo, hi] from the config and the
// ceiling, then floor above all.
type limits struct {
	lo, hi, floor int
	ceiling       bool // hi is the ceiling, not MaxReplicas
}

func limitsOf(cfg Config, in Input) limits {
	l := limits{hi: cfg.MaxReplicas, floor: in.Floor}
	if in.Ceiling > 0 && in.Ceiling < l.hi {
		l.hi, l.ceiling = in.Ceiling, true
	}
	l.lo = min(cfg.MinReplicas, l.hi)
	return l
}

func (l limits) clamp(n int) int {
	return max(min(max(n, l.lo), l.hi), l.floor)
}

// why says which limit moved n to m.
func (l limits) why(n, m int) string {
	switch {
	case m > n && m == l.floor && l.floor > l.lo:
		return fmt.Sprintf("a rollout needs %d", l.floor)
	case m > n:
		return fmt.Sprintf("min_replicas is %d", l.lo)
	case l.ceiling:
		return fmt.Sprintf("only %d can be had now", l.hi)
	default:
		return fmt.Sprintf("max_replicas is %d", l.hi)
	}
}

// describe says what load wants, for a Reason: "load 7.8 over 2 replicas
// (target 2 per replica) wants 4", with why when it is not what the formula
// says.
func describe(in Input, load float64, cfg Config, raw, want int, lim limits) string {
	running := ""
	if in.Running != in.Target {
		running = fmt.Sprintf("%d running, ", in.Running)
	}
	s := fmt.Sprintf("load %s over %s (%starget %s per replica)",
		fmtLoad(load), replicas(in.Target), running, strconv.FormatFloat(cfg.TargetOngoingRequests, 'g', -1, 64))
	if want == in.Target && raw == want {
		return s
	}
	s += fmt.Sprintf(" wants %d", want)
	switch {
	case raw == want:
	case raw == 0 && want == 1 && lim.lo == 0 && lim.floor <= 1:
		s += " (0 only from 1)"
	default:
		s += fmt.Sprintf(" (the formula says %d; %s)", raw, lim.why(raw, want))
	}
	return s
}

// desired is Desired without the clamp to [MinReplicas, MaxReplicas].
func desired(current int, load float64, cfg Config) int {
	unbounded := cfg
	unbounded.MinReplicas, unbounded.MaxReplicas = 0, math.MaxInt32
	return Desired(current, load, unbounded)
}

func sign(n int) int {
	switch {
	case n > 0:
		return +1
	case n < 0:
		return -1
	}
	return 0
}

func replicas(n int) string {
	if n == 1 {
		return "1 replica"
	}
	return strconv.Itoa(n) + " replicas"
}

func fmtLoad(f float64) string {
	if f < 1 {
		return strconv.FormatFloat(f, 'g', 2, 64)
	}
	return strconv.FormatFloat(f, 'f', 1, 64)
}

// fmtDur writes a delay in seconds, as the config does: "600s", "1.5s".
func fmtDur(d time.Duration) string {
	return strconv.FormatFloat(math.Round(d.Seconds()*10)/10, 'f', -1, 64) + "s"
}

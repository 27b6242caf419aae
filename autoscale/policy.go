package autoscale

import (
	"math"
	"time"
)

// Config is a deployment's resolved autoscaling_config: every field set (the
// controller converts deploy's type into this).
type Config struct {
	// MinReplicas and MaxReplicas bound the target. Scaling to zero needs
	// MinReplicas 0. InitialReplicas is where the controller starts; Decide
	// does not read it.
	MinReplicas, MaxReplicas, InitialReplicas int
	// TargetOngoingRequests is the load one replica should carry (Ray's
	// default 2). It must be > 0; otherwise the policy holds.
	TargetOngoingRequests float64
	// UpscaleDelay and DownscaleDelay are how long a wish to scale up or
	// down must last before it is acted on (Ray's defaults 30s and 600s);
	// DownscaleToZeroDelay is the same for the last step, 1 → 0.
	UpscaleDelay, DownscaleDelay, DownscaleToZeroDelay time.Duration
	// UpscalingFactor and DownscalingFactor damp (< 1) or amplify (> 1) each
	// step; 1 is a full step. A value <= 0 counts as 1.
	UpscalingFactor, DownscalingFactor float64
	// LookBackPeriod is the span of the load average (see Window); Decide
	// does not read it.
	LookBackPeriod time.Duration
}

// Desired is Ray Serve's default policy without its delays. With load
// requests in flight or queued, measured against current replicas,
//
//	error_ratio = load / (target × current)
//	desired     = ceil(current × (1 + (error_ratio − 1) × factor))
//
// where factor is UpscalingFactor when error_ratio >= 1, else
// DownscalingFactor; a downscale too small to move ceil still removes one
// replica. The result is clamped to [MinReplicas, MaxReplicas]. With factor
// 1 it is ceil(load / target) whatever current is.
//
// Ray measures against running replicas; Decide passes the current target,
// so replicas that are still starting do not make a damped policy ask for
// fewer than it already asked for. With no current replica, any load asks
// for max(1, ceil(UpscalingFactor)) (a cold start), no load for MinReplicas.
// A negative or NaN load counts as 0.
func Desired(current int, load float64, cfg Config) int {
	if !(load > 0) {
		load = 0
	}
	if current <= 0 {
		if load > 0 {
			return cfg.clamp(coldStart(cfg))
		}
		return cfg.clamp(cfg.MinReplicas)
	}
	if !(cfg.TargetOngoingRequests > 0) {
		return cfg.clamp(current)
	}
	n := float64(current)
	ratio := load / (cfg.TargetOngoingRequests * n)
	factor := factorOrOne(cfg.DownscalingFactor)
	if ratio >= 1 {
		factor = factorOrOne(cfg.UpscalingFactor)
	}
	want := ceil(n * (1 + (ratio-1)*factor))
	if want == n && ceil(n*ratio) < n {
		want--
	}
	return cfg.clamp(toInt(want))
}

// coldStart is the target for a deployment with load and nothing running:
// one step of the upscaling factor from zero, never a jump to MaxReplicas
// (Ray PR #61731).
func coldStart(cfg Config) int {
	return max(1, toInt(ceil(factorOrOne(cfg.UpscalingFactor))))
}

// ceil rounds up, ignoring the last bits of floating-point error: a load
// averaged to 8.000000000001 over target 2 wants 4 replicas, not 5.
func ceil(f float64) float64 {
	return math.Ceil(f - 1e-9)
}

func (cfg Config) clamp(n int) int {
	return min(max(n, cfg.MinReplicas), cfg.MaxReplicas)
}

func factorOrOne(f float64) float64 {
	if !(f > 0) {
		return 1
	}
	return f
}

// toInt converts a replica count computed in floating point, saturating
// rather than overflowing on absurd loads.
func toInt(f float64) int {
	switch {
	case !(f > 0):
		return 0
	case f >= math.MaxInt32:
		return math.MaxInt32
	}
	return int(f)
}

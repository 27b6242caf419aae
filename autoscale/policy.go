package autoscale

import "math"

// Bounds are the replica limits and target of one deployment.
type Bounds struct {
	MinReplicas, MaxReplicas int
	// TargetOngoingRequests is the load one replica should carry.
	TargetOngoingRequests float64
	// UpscalingFactor and DownscalingFactor damp each step (1 = full step).
	UpscalingFactor, DownscalingFactor float64
}

// Desired is Ray Serve's default policy without its delays: with load
// requests in flight or queued over running replicas,
//
//	error_ratio = load / (target × running)
//	desired     = ceil(running × (1 + (error_ratio − 1) × factor))
//
// clamped to [MinReplicas, MaxReplicas]. With no running replica, any load
// asks for at least one at once (a cold start), no load for MinReplicas.
func Desired(running int, load float64, b Bounds) int {
	if running <= 0 {
		if load > 0 {
			return clamp(max(1, int(math.Ceil(b.UpscalingFactor))), b)
		}
		return clamp(b.MinReplicas, b)
	}
	ratio := load / (b.TargetOngoingRequests * float64(running))
	factor := b.DownscalingFactor
	if ratio >= 1 {
		factor = b.UpscalingFactor
	}
	desired := int(math.Ceil(float64(running) * (1 + (ratio-1)*factor)))
	// A downscale too small to move ceil still removes one replica.
	if int(math.Ceil(float64(running)*ratio)) < running && desired == running {
		desired--
	}
	return clamp(desired, b)
}

func clamp(n int, b Bounds) int {
	return min(max(n, b.MinReplicas), b.MaxReplicas)
}

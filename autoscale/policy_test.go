package autoscale

import "testing"

func TestDesiredFollowsRayFormula(t *testing.T) {
	b := Bounds{MinReplicas: 1, MaxReplicas: 10, TargetOngoingRequests: 2, UpscalingFactor: 1, DownscalingFactor: 1}
	half := b
	half.UpscalingFactor, half.DownscalingFactor = 0.5, 0.5
	for _, c := range []struct {
		name    string
		running int
		load    float64
		b       Bounds
		want    int
	}{
		{"steady", 2, 4, b, 2},
		{"double load", 2, 8, b, 4},
		{"clamped to max", 2, 100, b, 10},
		{"half load", 4, 4, b, 2},
		{"idle clamps to min", 4, 0, b, 1},
		{"small damped drop still steps down", 4, 6, half, 3},
		{"damped upscale", 2, 8, half, 3},
		{"cold start", 0, 1, b, 1},
		{"zero stays zero", 0, 0, Bounds{MaxReplicas: 4, TargetOngoingRequests: 2, UpscalingFactor: 1, DownscalingFactor: 1}, 0},
	} {
		if got := Desired(c.running, c.load, c.b); got != c.want {
			t.Errorf("%s: Desired(%d, %v) = %d, want %d", c.name, c.running, c.load, got, c.want)
		}
	}
}

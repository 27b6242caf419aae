package autoscale

import "testing"

func TestDesiredFollowsRayFormula(t *testing.T) {
	c := Config{MinReplicas: 1, MaxReplicas: 10, TargetOngoingRequests: 2, UpscalingFactor: 1, DownscalingFactor: 1}
	half := c
	half.UpscalingFactor, half.DownscalingFactor = 0.5, 0.5
	toZero := c
	toZero.MinReplicas = 0
	unset := c
	unset.UpscalingFactor, unset.DownscalingFactor = 0, 0
	for _, tc := range []struct {
		name    string
		current int
		load    float64
		cfg     Config
		want    int
	}{
		{"steady", 2, 4, c, 2},
		{"double load", 2, 8, c, 4},
		{"clamped to max", 2, 100, c, 10},
		{"half load", 4, 4, c, 2},
		{"idle clamps to min", 4, 0, c, 1},
		{"idle with min 0 wants 0", 4, 0, toZero, 0},
		{"small damped drop still steps down", 4, 6, half, 3},
		{"damped upscale", 2, 8, half, 3},
		{"factor 1 ignores current", 7, 8, c, 4},
		{"unset factors count as 1", 2, 8, unset, 4},
		{"cold start", 0, 1, c, 1},
		{"cold start with factor 3", 0, 1, Config{MaxReplicas: 10, TargetOngoingRequests: 2, UpscalingFactor: 3}, 3},
		{"zero stays zero", 0, 0, toZero, 0},
		{"negative load is idle", 3, -5, c, 1},
		{"huge load saturates at max", 1, 1e300, c, 10},
		{"no target per replica holds", 3, 50, Config{MinReplicas: 1, MaxReplicas: 10}, 3},
	} {
		if got := Desired(tc.current, tc.load, tc.cfg); got != tc.want {
			t.Errorf("%s: Desired(%d, %v) = %d, want %d", tc.name, tc.current, tc.load, got, tc.want)
		}
	}
}

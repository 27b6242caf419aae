package replica

import (
	"testing"
	"time"
)

func TestBackoff(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC)
	at := func(d time.Duration) time.Time { return t0.Add(d) }
	var never time.Time
	type crash struct {
		now, healthySince time.Time
		want              time.Duration
	}
	tests := []struct {
		name    string
		backoff Backoff
		crashes []crash
	}{
		{
			name: "doubles up to the cap",
			crashes: []crash{
				{at(0), never, 500 * time.Millisecond},
				{at(1 * time.Second), never, 1 * time.Second},
				{at(3 * time.Second), never, 2 * time.Second},
				{at(6 * time.Second), never, 4 * time.Second},
				{at(11 * time.Second), never, 8 * time.Second},
				{at(20 * time.Second), never, 10 * time.Second},
				{at(31 * time.Second), never, 10 * time.Second},
			},
		},
		{
			name: "healthy for a minute resets",
			crashes: []crash{
				{at(0), never, 500 * time.Millisecond},
				{at(time.Second), at(time.Second), time.Second},
				{at(2 * time.Second), never, 2 * time.Second},
				{at(2*time.Second + time.Minute), at(2 * time.Second), 500 * time.Millisecond},
				{at(3 * time.Minute), at(2*time.Minute + 30*time.Second), time.Second},
			},
		},
		{
			name: "healthy just short of a minute does not reset",
			crashes: []crash{
				{at(0), never, 500 * time.Millisecond},
				{at(2 * time.Minute), at(time.Minute + time.Second), time.Second},
			},
		},
		{
			name:    "custom settings",
			backoff: Backoff{Initial: time.Second, Max: 3 * time.Second, ResetAfter: 10 * time.Second},
			crashes: []crash{
				{at(0), never, time.Second},
				{at(time.Second), never, 2 * time.Second},
				{at(2 * time.Second), never, 3 * time.Second},
				{at(3 * time.Second), never, 3 * time.Second},
				{at(20 * time.Second), at(10 * time.Second), time.Second},
			},
		},
		{
			name:    "initial above max",
			backoff: Backoff{Initial: 20 * time.Second},
			crashes: []crash{{at(0), never, 10 * time.Second}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.backoff
			for i, c := range tt.crashes {
				if got := b.Next(c.now, c.healthySince); got != c.want {
					t.Errorf("crash %d: Next = %v, want %v", i, got, c.want)
				}
			}
		})
	}
}

func TestBackoffLongRun(t *testing.T) {
	var b Backoff
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 100 { // no overflow however often it crashes
		if got := b.Next(now, time.Time{}); got <= 0 || got > DefaultBackoffMax {
			t.Fatalf("crash %d: Next = %v", i, got)
		}
	}
	b.Reset()
	if got := b.Next(now, time.Time{}); got != DefaultBackoffInitial {
		t.Errorf("Next after Reset = %v, want %v", got, DefaultBackoffInitial)
	}
}

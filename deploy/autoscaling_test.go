package deploy

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry/router"
)

// Autoscaling decisions on a fake Backend and a fake clock (see
// fake_test.go): the load is requests held in flight through the router,
// the delays pass on the fake clock.

// hold takes n requests' worth of capacity from app's router deployment,
// as requests in flight would, and returns a func that gives it back (also
// called when the test ends: replicas drain their requests before they stop).
func hold(t *testing.T, h *harness, app string, n int) (release func()) {
	t.Helper()
	d, ok := h.router.Table().Application(app)
	if !ok {
		t.Fatalf("no router deployment for %s", app)
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	var held []*router.Replica
	for range n {
		r, err := d.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, r)
	}
	var once sync.Once
	release = func() {
		once.Do(func() {
			for _, r := range held {
				d.Release(r)
			}
		})
	}
	t.Cleanup(release)
	return release
}

func TestAutoscalerScalesUpAndDownAfterItsDelays(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("autoscaling_config: {min_replicas: 1, max_replicas: 3, target_ongoing_requests: 1, "+
		"upscale_delay_s: 2, downscale_delay_s: 5, look_back_period_s: 1}", "replica: {command: [model]}"))
	snap := h.until("1 replica", func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
	if d, _ := dep(snap, "app", "d"); d.Autoscaler == nil || d.Autoscaler.Load != 0 || d.Target != 1 {
		t.Fatalf("autoscaler status %+v, target %d; want no load and the initial target 1", d.Autoscaler, d.Target)
	}
	// New replicas stay unhealthy until the test has seen the scale-up.
	h.b.setPlan(func(ReplicaSpec) fakePlan { return fakePlan{unhealthy: true} })
	loadFrom := h.clock.Now()
	release := hold(t, h, "app", 3)
	snap = h.advanceUntil("target 3", 100*time.Millisecond, func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		return d.Target == 3
	})
	if waited := h.clock.Now().Sub(loadFrom); waited < 2*time.Second {
		t.Errorf("scaled up %v after the load came; want upscale_delay_s (2 s) at least", waited)
	}
	d, _ := dep(snap, "app", "d")
	if d.Status != DeploymentUpscaling || d.Trigger != TriggerAutoscaling || d.Autoscaler.Wanted != 3 || d.Autoscaler.Load < 2 {
		t.Errorf("while scaling up: %s %s %+v", d.Status, d.Trigger, d.Autoscaler)
	}
	if e := h.eventsOf(EventScaled); len(e) != 1 || !strings.HasPrefix(e[0].Message, "1 → 3 replicas: ") {
		t.Errorf("scale events %+v", e)
	}
	h.until("the 2 new replicas started", func(*Snapshot) bool { return len(h.b.started()) == 3 })
	for _, in := range h.b.started() {
		in.setHealthy(true)
	}
	snap = h.advanceUntil("3 replicas", 50*time.Millisecond, func(s *Snapshot) bool { return settled(s, "app", "d", 3) })
	if d, _ := dep(snap, "app", "d"); d.Trigger != TriggerUpscaleCompleted {
		t.Errorf("trigger %s after scaling up, want UPSCALE_COMPLETED", d.Trigger)
	}

	release()
	idleFrom := h.clock.Now()
	h.advanceUntil("target 1", 250*time.Millisecond, func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		return d.Target == 1
	})
	if waited := h.clock.Now().Sub(idleFrom); waited < 5*time.Second {
		t.Errorf("scaled down %v after the load went; want downscale_delay_s (5 s) at least", waited)
	}
	snap = h.until("1 replica", func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
	if d, _ := dep(snap, "app", "d"); d.Trigger != TriggerDownscaleCompleted {
		t.Errorf("trigger %s after scaling down, want DOWNSCALE_COMPLETED", d.Trigger)
	}
	if e := h.eventsOf(EventScaled); len(e) != 2 || !strings.HasPrefix(e[1].Message, "3 → 1 replicas: ") {
		t.Errorf("scale events %+v", e)
	}
}

func TestQueuedRequestStartsADeploymentScaledToZero(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("autoscaling_config: {min_replicas: 0, max_replicas: 2, initial_replicas: 0, upscale_delay_s: 60}",
		"replica: {command: [model]}"))
	h.until("HEALTHY at zero", func(s *Snapshot) bool { return settled(s, "app", "d", 0) })

	// A request queues with no replica: the router wakes the controller,
	// which starts one at once, without the upscale delay and without the
	// clock moving.
	d, _ := h.router.Table().Application("app")
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	got := make(chan *router.Replica, 1)
	go func() {
		r, err := d.Acquire(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	h.until("1 replica", func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
	r := <-got
	if r == nil || r.Addr() != h.b.started()[0].Address() {
		t.Fatalf("the queued request went to %v, want the new replica", r)
	}
	d.Release(r)
}

func TestAutoscalerNeverAsksForMoreSlicesThanTheGroupHas(t *testing.T) {
	h := newHarness(t)
	const yaml = `worker_groups:
- {name: tpu, accelerator: tpu-v4-podslice, topology: 2x2x1, chips_per_host: 4, replicas: 2}
applications:
- name: app
  route_prefix: /app
  deployments:
  - name: d
    autoscaling_config: {min_replicas: 1, max_replicas: 4, target_ongoing_requests: 1, upscale_delay_s: 0, look_back_period_s: 1}
    ray_actor_options: {resources: {TPU: 4}}
    replica: {command: [model]}
`
	h.apply(yaml)
	h.until("1 replica", func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
	hold(t, h, "app", 4)
	h.advanceUntil("2 replicas on the 2 slices", 100*time.Millisecond, func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		return d.Autoscaler.Wanted == 2 && settled(s, "app", "d", 2)
	})
	h.clock.Advance(2 * time.Second)
	h.apply(yaml) // the same config: returns after a pass that saw the time move
	if d, _ := dep(h.c.Snapshot(), "app", "d"); d.Target != 2 || len(d.Replicas) != 2 {
		t.Errorf("target %d with %d replicas; the group has 2 slices", d.Target, len(d.Replicas))
	}
}

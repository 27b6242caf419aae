package deploy

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Rolling updates on a fake Backend and a fake clock (see fake_test.go).

// watchPool samples the size of app's router pool from now until the test
// ends; least returns the smallest size seen so far.
func watchPool(t *testing.T, h *harness, app string) (least func() int) {
	t.Helper()
	var minSeen atomic.Int64
	minSeen.Store(1 << 30)
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		for {
			select {
			case <-done:
				return
			default:
			}
			if n := int64(len(h.pool(app))); n < minSeen.Load() {
				minSeen.Store(n)
			}
			time.Sleep(100 * time.Microsecond) // a sampling rate, not synchronization
		}
	}()
	t.Cleanup(func() { close(done); <-stopped })
	return func() int { return int(minSeen.Load()) }
}

func TestRollingUpdateKeepsCapacityAndDrainsOldReplicasAfterNewOnesAreHealthy(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("num_replicas: 2", "replica: {command: [model, v1]}"))
	snap := h.until("2 replicas of v1", func(s *Snapshot) bool { return settled(s, "app", "d", 2) })
	d1, _ := dep(snap, "app", "d")
	oldIDs, v1 := ids(d1), d1.Spec.CodeVersion
	least := watchPool(t, h, "app")

	// New replicas come up unhealthy until the test says so.
	h.b.setPlan(func(s ReplicaSpec) fakePlan { return fakePlan{unhealthy: s.Command[1] == "v2"} })
	h.apply(appYAML("num_replicas: 2", "replica: {command: [model, v2]}"))
	snap = h.until("one surge replica started", func(*Snapshot) bool { return len(h.b.started()) == 3 })
	d2, _ := dep(snap, "app", "d")
	v2 := d2.Spec.CodeVersion
	if v2 == v1 {
		t.Fatal("a command change kept the code version")
	}
	if ev := h.eventsOf(EventDeploymentUpdated); !strings.Contains(ev[len(ev)-1].Message, "code changed: replica.command (version "+v1+" → "+v2+")") {
		t.Errorf("update event %q; want the changed field and both versions", ev[len(ev)-1].Message)
	}
	// With the surge replica not healthy, passes start no more.
	h.clock.Advance(2 * time.Second)
	h.apply(appYAML("num_replicas: 2", "replica: {command: [model, v2]}")) // the same config: returns after a pass
	if n := len(h.b.started()); n != 3 {
		t.Fatalf("%d replicas started; want at most target + surge (3) while the new one is not healthy", n)
	}
	if a := h.c.Snapshot().Applications[0]; a.Status != AppDeploying {
		t.Errorf("application %s during the rollout, want DEPLOYING", a.Status)
	}
	for _, id := range oldIDs {
		if h.b.instance(id).exited() {
			t.Fatalf("old replica %s stopped before any new one was healthy", id)
		}
	}

	// Each new replica that turns healthy lets one old one go.
	for round := 1; round <= 2; round++ {
		h.until(fmt.Sprintf("new replica %d started", round), func(*Snapshot) bool { return len(h.b.started()) == 2+round })
		fresh := h.b.started()[1+round]
		fresh.setHealthy(true)
		h.advanceUntil(fmt.Sprintf("old replica %d drained", round), 50*time.Millisecond, func(*Snapshot) bool {
			stopped := 0
			for _, id := range oldIDs {
				if h.b.instance(id).exited() {
					stopped++
				}
			}
			return stopped == round
		})
	}
	snap = h.until("2 replicas of v2", func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		return settled(s, "app", "d", 2) && d.Replicas[0].Version == v2 && d.Replicas[1].Version == v2
	})
	if n := least(); n < 2 {
		t.Errorf("the router pool shrank to %d replicas during the rollout; capacity must never drop below the target (2)", n)
	}
	if n := len(h.b.started()); n != 4 {
		t.Errorf("%d replicas started in all, want 4", n)
	}
	// In the event log, every old replica drains after a new one is healthy.
	healthyNew, drainedOld := 0, 0
	for _, e := range h.events() {
		switch {
		case e.Kind == EventReplicaHealthy && !slices.Contains(oldIDs, e.Replica):
			healthyNew++
		case e.Kind == EventReplicaDraining && slices.Contains(oldIDs, e.Replica):
			drainedOld++
			if drainedOld > healthyNew {
				t.Errorf("old replica %s drained (%q) before a new one replaced it", e.Replica, e.Message)
			}
			if !strings.Contains(e.Message, "rollout to version "+v2) {
				t.Errorf("draining event %q; want the rollout reason", e.Message)
			}
		}
	}
	if d, _ := dep(snap, "app", "d"); d.Trigger != TriggerConfigUpdateCompleted {
		t.Errorf("trigger %s after the rollout", d.Trigger)
	}
}

func TestFailingRolloutIsDeployFailedAndTheOldVersionKeepsServing(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model, v1]}"))
	snap := h.until("v1 running", func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
	d1, _ := dep(snap, "app", "d")
	old := h.b.instance(d1.Replicas[0].ID)
	least := watchPool(t, h, "app")

	h.b.setPlan(func(s ReplicaSpec) fakePlan {
		if s.Command[1] == "v2" {
			return fakePlan{exitAtOnce: true, exitCode: 3, log: []string{"cannot load the model weights"}}
		}
		return fakePlan{}
	})
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model, v2]}"))
	snap = h.advanceUntil("DEPLOY_FAILED", 100*time.Millisecond, func(s *Snapshot) bool {
		return s.Applications[0].Status == AppDeployFailed
	})
	d, _ := dep(snap, "app", "d")
	if d.Trigger != TriggerReplicaStartupFailed || !strings.Contains(d.Message, "exited with exit status 3") ||
		!strings.Contains(d.Message, "cannot load the model weights") {
		t.Errorf("deployment %s %q", d.Trigger, d.Message)
	}
	if old.exited() || !slices.Equal(h.pool("app"), []string{old.Address()}) || least() < 1 {
		t.Fatalf("the old replica stopped serving (exited %v, pool %v, least %d)", old.exited(), h.pool("app"), least())
	}
	if len(d.Replicas) != 1 || d.Replicas[0].Version != d1.Spec.CodeVersion || d.Replicas[0].State != "RUNNING" {
		t.Errorf("replicas %+v; want the old one, RUNNING", d.Replicas)
	}

	// Applying the old config again ends the failed rollout.
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model, v1]}"))
	h.until("HEALTHY on v1", func(s *Snapshot) bool { return settled(s, "app", "d", 1) && s.Applications[0].Status == AppRunning })
}

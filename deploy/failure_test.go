package deploy

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Crashes, failed starts and failed health checks, on a fake Backend and a
// fake clock (see fake_test.go).

func TestReplicaExitingAtOnceIsReportedWithItsExitCode(t *testing.T) {
	h := newHarness(t)
	h.b.setPlan(func(ReplicaSpec) fakePlan {
		return fakePlan{exitAtOnce: true, exitCode: 3, log: []string{"loading weights", "cannot load the model weights"}}
	})
	h.apply(appYAML("num_replicas: 1", "replica: {command: [sh, -c, exit 3]}"))
	snap := h.until("a failure reported", func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		return d.Message != ""
	})
	d, _ := dep(snap, "app", "d")
	for _, want := range []string{"exited with exit status 3 before becoming healthy", "last log lines:\nloading weights\ncannot load the model weights"} {
		if !strings.Contains(d.Message, want) {
			t.Errorf("deployment message %q lacks %q", d.Message, want)
		}
		if !strings.Contains(snap.Applications[0].Message, want) {
			t.Errorf("application message %q lacks %q", snap.Applications[0].Message, want)
		}
	}
	crashed := h.eventsOf(EventReplicaCrashed)
	if len(crashed) == 0 || crashed[0].ExitCode == nil || *crashed[0].ExitCode != 3 || !strings.Contains(crashed[0].Message, "exit status 3") {
		t.Fatalf("crash events %+v; want one with exit code 3", crashed)
	}
}

func TestRepeatedStartupCrashesAreDeployFailedWithBackoff(t *testing.T) {
	h := newHarness(t)
	h.b.setPlan(func(ReplicaSpec) fakePlan {
		return fakePlan{exitAtOnce: true, exitCode: 3, log: []string{"no weights"}}
	})
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model]}"))
	snap := h.advanceUntil("DEPLOY_FAILED", 100*time.Millisecond, func(s *Snapshot) bool {
		return s.Applications[0].Status == AppDeployFailed
	})
	d, _ := dep(snap, "app", "d")
	if d.Status != DeploymentDeployFailed || d.Trigger != TriggerReplicaStartupFailed ||
		!strings.HasPrefix(d.Message, "3 replicas in a row failed to start; the last: replica ") ||
		!strings.Contains(d.Message, "exited with exit status 3") || !strings.Contains(d.Message, "no weights") {
		t.Errorf("deployment = %s %s %q", d.Status, d.Trigger, d.Message)
	}
	// Three starts, 0.5 s and then 1 s apart on the controller's clock.
	started := h.b.started()
	if len(started) != 3 {
		t.Fatalf("%d replicas started, want 3 before giving up", len(started))
	}
	for i, want := range []time.Duration{500 * time.Millisecond, time.Second} {
		if gap := started[i+1].startedAt.Sub(started[i].startedAt); gap < want || gap > want+100*time.Millisecond {
			t.Errorf("start %d came %v after the one before; want the backoff %v (within one pass)", i+2, gap, want)
		}
	}
	// Giving up is final until the config changes: no more starts.
	h.clock.Advance(time.Minute)
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model]}")) // the same config: returns after a pass
	if n := len(h.b.started()); n != 3 {
		t.Errorf("%d starts after DEPLOY_FAILED", n)
	}
}

func TestCrashedReplicaIsRestartedWithDoublingBackoff(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model]}"))
	h.until("RUNNING", func(s *Snapshot) bool { return settled(s, "app", "d", 1) })

	// Each replica crashes once healthy; the waits before the next start
	// double from 0.5 s up to 10 s.
	for i, want := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		8 * time.Second, 10 * time.Second, 10 * time.Second} {
		started := h.b.started()
		crashing := started[len(started)-1]
		crashedAt := h.clock.Now()
		crashing.exit(1)
		snap := h.until(fmt.Sprintf("crash %d seen", i+1), func(s *Snapshot) bool {
			d, _ := dep(s, "app", "d")
			return len(h.eventsOf(EventReplicaCrashed)) == i+1 && d.Status == DeploymentUnhealthy
		})
		d, _ := dep(snap, "app", "d")
		if d.Trigger != TriggerHealthCheckFailed || !strings.Contains(d.Message, "exited with exit status 1") {
			t.Errorf("after crash %d: %s %q", i+1, d.Trigger, d.Message)
		}
		ev := h.eventsOf(EventReplicaCrashed)[i]
		if ev.ExitCode == nil || *ev.ExitCode != 1 || !strings.Contains(ev.Message, fmt.Sprintf("next start in %v", want)) {
			t.Errorf("crash event %q (exit code %v); want exit code 1 and the next start in %v", ev.Message, ev.ExitCode, want)
		}
		h.advanceUntil("restarted", 100*time.Millisecond, func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
		restarted := h.b.started()[i+1]
		if gap := restarted.startedAt.Sub(crashedAt); gap < want || gap > want+100*time.Millisecond {
			t.Errorf("crash %d: restarted %v later, want the backoff %v (within one pass)", i+1, gap, want)
		}
		if e := h.eventsOf(EventReplicaHealthy); len(e) != i+2 {
			t.Fatalf("%d healthy events after %d restarts", len(e), i+1)
		}
	}
}

func TestFailingHealthChecksReplaceTheReplica(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("num_replicas: 1", "health_check_period_s: 2", "replica: {command: [model]}"))
	h.until("RUNNING", func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
	sick := h.b.started()[0]
	sick.setHealthy(false)

	// Three failed checks, one period apart, take it out of the pool.
	snap := h.advanceUntil("UNHEALTHY", time.Second, func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		return d.Status == DeploymentUnhealthy
	})
	d, _ := dep(snap, "app", "d")
	if d.Trigger != TriggerHealthCheckFailed || !strings.Contains(d.Message, "3 health checks in a row failed") ||
		!strings.Contains(d.Message, "503 Service Unavailable: not ready") {
		t.Errorf("deployment %s %q; want HEALTH_CHECK_FAILED naming the failed checks", d.Trigger, d.Message)
	}
	if e := h.eventsOf(EventHealthCheckFailed); len(e) != 1 || e[0].Replica != sick.spec.ID || e[0].Level != "error" {
		t.Errorf("health-check events %+v", e)
	}
	h.advanceUntil("a new healthy replica", 100*time.Millisecond, func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		return settled(s, "app", "d", 1) && d.Replicas[0].ID != sick.spec.ID
	})
	if !sick.exited() || sick.stops.Load() == 0 {
		t.Error("the unhealthy replica was not stopped")
	}
	if pool := h.pool("app"); len(pool) != 1 || pool[0] == sick.Address() {
		t.Errorf("pool %v; want only the new replica", pool)
	}
}

func TestFailedStartsAreRetriedThenDeployFailed(t *testing.T) {
	h := newHarness(t)
	h.b.setPlan(func(ReplicaSpec) fakePlan { return fakePlan{startErr: errors.New("no such image")} })
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model]}"))
	snap := h.advanceUntil("DEPLOY_FAILED", 100*time.Millisecond, func(s *Snapshot) bool {
		return s.Applications[0].Status == AppDeployFailed
	})
	d, _ := dep(snap, "app", "d")
	if !strings.Contains(d.Message, "starting replica: no such image") || len(d.Replicas) != 0 {
		t.Errorf("deployment %q with replicas %v; want the start error and no replicas", d.Message, d.Replicas)
	}
	if n := h.b.failedStarts(); n != 3 {
		t.Errorf("%d failed starts, want 3", n)
	}
	if e := h.eventsOf(EventReplicaFailed); len(e) != 3 {
		t.Errorf("%d REPLICA_FAILED events, want 3", len(e))
	}
	// A new config is a new chance.
	h.b.setPlan(nil)
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model, --fixed]}"))
	h.advanceUntil("RUNNING after the fix", 100*time.Millisecond, func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
}

func TestFailedReconfigureReplacesTheReplica(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("num_replicas: 1", "user_config: {a: 1}", "replica: {command: [model]}"))
	h.until("RUNNING", func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
	first := h.b.started()[0]
	first.failReconfigure.Store(true)
	h.apply(appYAML("num_replicas: 1", "user_config: {a: 2}", "replica: {command: [model]}"))
	h.advanceUntil("a replacement", 100*time.Millisecond, func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		return settled(s, "app", "d", 1) && d.Replicas[0].ID != first.spec.ID
	})
	found := false
	for _, e := range h.eventsOf(EventReplicaFailed) {
		found = found || strings.Contains(e.Message, "reconfigure failed")
	}
	if !found {
		t.Errorf("no REPLICA_FAILED event for the failed reconfigure: %+v", h.events())
	}
}

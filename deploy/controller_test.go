package deploy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/deploy/config"
)

// Unit tests of the controller's decisions on a fake Backend and a fake
// clock; see fake_test.go. End-to-end tests with real processes are in
// serve and cmd/gantry.

func TestApplyStartsReplicasAndRoutesToThemOnceHealthy(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("num_replicas: 2", "user_config: {threshold: 1}", "replica: {command: [model, --serve], env: {MODE: fast}}"))
	snap := h.until("HEALTHY with 2 RUNNING replicas", func(s *Snapshot) bool { return settled(s, "app", "d", 2) })

	app := snap.Applications[0]
	if app.Name != "app" || app.Status != AppRunning || app.RoutePrefix != "/app" || app.Message != "" {
		t.Errorf("application = %+v; want app RUNNING at /app without a message", app)
	}
	d := app.Deployments[0]
	if d.Trigger != TriggerConfigUpdateCompleted || d.Target != 2 || d.Spec.CodeVersion == "" {
		t.Errorf("deployment = %+v; want CONFIG_UPDATE_COMPLETED with target 2", d)
	}
	started := h.b.started()
	if len(started) != 2 {
		t.Fatalf("%d replicas started, want 2", len(started))
	}
	for _, in := range started {
		s := in.spec
		if s.Application != "app" || s.Deployment != "d" || !strings.HasPrefix(s.ID, "app#d#") ||
			!slices.Equal(s.Command, []string{"model", "--serve"}) || s.Env["MODE"] != "fast" ||
			string(s.UserConfig) != `{"threshold":1}` || s.Hosts != 1 || s.Version != d.Spec.CodeVersion {
			t.Errorf("replica started with %+v", s)
		}
		r, ok := snap.Replica(s.ID)
		if !ok || r.Address != in.Address() || r.PID != 1000 || r.LogPath != in.LogPath() || r.Version != s.Version || r.Slice != -1 {
			t.Errorf("status of %s = %+v, %v", s.ID, r, ok)
		}
	}
	pool := h.pool("app")
	slices.Sort(pool)
	want := []string{started[0].Address(), started[1].Address()}
	slices.Sort(want)
	if !slices.Equal(pool, want) {
		t.Errorf("router pool %v, want the two replicas %v", pool, want)
	}
	if route, ok := h.router.Table().Match("/app/x"); !ok || route.Application != "app" {
		t.Errorf("route for /app/x = %+v, %v", route, ok)
	}
	var kinds []EventKind
	for _, e := range h.events() {
		kinds = append(kinds, e.Kind)
	}
	for _, k := range []EventKind{EventConfigApplied, EventDeploymentUpdated, EventReplicaStarting, EventReplicaHealthy} {
		if !slices.Contains(kinds, k) {
			t.Errorf("events %v lack %s", kinds, k)
		}
	}
}

func TestApplyRejectsNothingButWaitsForHealthyReplicas(t *testing.T) {
	h := newHarness(t)
	h.b.setPlan(func(ReplicaSpec) fakePlan { return fakePlan{unhealthy: true} })
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model]}"))
	snap := h.until("a STARTING replica", func(s *Snapshot) bool {
		d, ok := dep(s, "app", "d")
		return ok && len(d.Replicas) == 1 && d.Replicas[0].State == "STARTING" && d.Replicas[0].Address != ""
	})
	if a := snap.Applications[0]; a.Status != AppDeploying || a.Deployments[0].Status != DeploymentUpdating {
		t.Errorf("app %s, deployment %s; want DEPLOYING and UPDATING while the replica is not healthy", a.Status, a.Deployments[0].Status)
	}
	if pool := h.pool("app"); len(pool) != 0 {
		t.Errorf("a replica that never passed a health check is in the pool: %v", pool)
	}
	h.b.started()[0].setHealthy(true)
	// The first health check failed; the next comes after the startup
	// interval, on the controller's clock.
	h.advanceUntil("RUNNING once healthy", 50*time.Millisecond, func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
	if pool := h.pool("app"); len(pool) != 1 {
		t.Errorf("pool %v, want the healthy replica", pool)
	}
}

func TestScalingChangesTheReplicaCountInPlace(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("num_replicas: 2", "replica: {command: [model]}"))
	d, _ := dep(h.until("2 replicas", func(s *Snapshot) bool { return settled(s, "app", "d", 2) }), "app", "d")
	first := ids(d)
	version := d.Spec.CodeVersion

	h.apply(appYAML("num_replicas: 4", "replica: {command: [model]}"))
	d, _ = dep(h.until("4 replicas", func(s *Snapshot) bool { return settled(s, "app", "d", 4) }), "app", "d")
	if now := ids(d); !slices.Contains(now, first[0]) || !slices.Contains(now, first[1]) {
		t.Errorf("scaling 2 → 4 replaced replicas: %v → %v", first, now)
	}
	if d.Spec.CodeVersion != version {
		t.Errorf("num_replicas changed the code version %s → %s", version, d.Spec.CodeVersion)
	}
	if ev := h.eventsOf(EventDeploymentUpdated); !strings.Contains(ev[len(ev)-1].Message, "applied in place") {
		t.Errorf("update event %q; want it to say the change is applied in place", ev[len(ev)-1].Message)
	}

	h.apply(appYAML("num_replicas: 1", "replica: {command: [model]}"))
	d, _ = dep(h.until("1 replica", func(s *Snapshot) bool { return settled(s, "app", "d", 1) }), "app", "d")
	if d.Replicas[0].ID != first[0] {
		t.Errorf("scaling 4 → 1 kept %s, want the oldest %s", d.Replicas[0].ID, first[0])
	}
	if n := len(h.b.started()); n != 4 {
		t.Errorf("%d replicas started in all, want 4: scaling down starts none", n)
	}
	for _, in := range h.b.started() {
		if in.spec.ID != first[0] && !in.exited() {
			t.Errorf("replica %s still running after scaling to 1", in.spec.ID)
		}
	}
	for _, e := range h.eventsOf(EventReplicaDraining) {
		if !strings.Contains(e.Message, "scaling down to 1") {
			t.Errorf("draining event %q; want the scale-down reason", e.Message)
		}
	}
	if pool := h.pool("app"); len(pool) != 1 {
		t.Errorf("pool %v after scaling to 1", pool)
	}
}

func TestUserConfigIsSentToRunningReplicasWithoutRestart(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("num_replicas: 2", "user_config: {threshold: 1}", "replica: {command: [model]}"))
	h.until("2 replicas", func(s *Snapshot) bool { return settled(s, "app", "d", 2) })

	h.apply(appYAML("num_replicas: 2", "user_config: {threshold: 2}", "replica: {command: [model]}"))
	h.until("reconfigured", func(s *Snapshot) bool {
		if !settled(s, "app", "d", 2) {
			return false
		}
		for _, in := range h.b.started() {
			if !slices.Equal(in.reconfigured(), []string{`{"threshold":2}`}) {
				return false
			}
		}
		return true
	})
	if n := len(h.b.started()); n != 2 {
		t.Errorf("%d replicas started; a user_config change must not start any", n)
	}
}

func TestReplicaWithoutReconfigureIsReplaced(t *testing.T) {
	h := newHarness(t)
	h.b.setPlan(func(ReplicaSpec) fakePlan { return fakePlan{noReconfigure: true} })
	h.apply(appYAML("num_replicas: 1", "user_config: {threshold: 1}", "replica: {command: [model]}"))
	old, _ := dep(h.until("1 replica", func(s *Snapshot) bool { return settled(s, "app", "d", 1) }), "app", "d")

	h.apply(appYAML("num_replicas: 1", "user_config: {threshold: 2}", "replica: {command: [model]}"))
	h.until("a new replica with the new user_config", func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		return settled(s, "app", "d", 1) && d.Replicas[0].ID != old.Replicas[0].ID
	})
	started := h.b.started()
	if len(started) != 2 || string(started[1].spec.UserConfig) != `{"threshold":2}` || !started[0].exited() {
		t.Errorf("want the old replica stopped and one new replica started with the new user_config; started %d", len(started))
	}
}

func TestHealthSettingsChangeWithoutRestart(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model]}"))
	h.until("1 replica", func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
	h.apply(appYAML("num_replicas: 1", "health_check_period_s: 1", "max_ongoing_requests: 7", "replica: {command: [model]}"))
	h.until("the new settings applied", func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		return settled(s, "app", "d", 1) && d.Spec.HealthCheckPeriod == time.Second
	})
	if n := len(h.b.started()); n != 1 {
		t.Errorf("%d replicas started; health and routing settings apply in place", n)
	}
	if rd, _ := h.router.Table().Application("app"); rd.Settings().MaxOngoingRequests != 7 {
		t.Errorf("router settings %+v; want max_ongoing_requests 7", rd.Settings())
	}
	// The watch now runs every second: a replica that turns unhealthy is
	// found out within three periods of the new setting.
	in := h.b.started()[0]
	in.setHealthy(false)
	h.advanceUntil("the unhealthy replica stopped", time.Second, func(*Snapshot) bool { return in.exited() })
}

func TestDeleteStopsEveryReplicaAndForgetsTheApplication(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("num_replicas: 2", "replica: {command: [model]}"))
	h.until("2 replicas", func(s *Snapshot) bool { return settled(s, "app", "d", 2) })

	h.applyConfig(&config.Config{}) // what DELETE /api/serve/applications/ applies
	h.until("the application gone", func(s *Snapshot) bool { return len(s.Applications) == 0 })
	for _, in := range h.b.started() {
		if !in.exited() || in.stops.Load() == 0 {
			t.Errorf("replica %s not stopped", in.spec.ID)
		}
	}
	if _, ok := h.router.Table().Application("app"); ok || h.router.Table().Len() != 0 {
		t.Error("the deleted application is still routed")
	}
	for _, e := range h.eventsOf(EventReplicaDraining) {
		if !strings.Contains(e.Message, "being deleted") {
			t.Errorf("draining event %q; want it to say the application is being deleted", e.Message)
		}
	}
	if n := len(h.eventsOf(EventReplicaStopped)); n != 2 {
		t.Errorf("%d REPLICA_STOPPED events, want 2", n)
	}
}

func TestRemovedDeploymentIsStoppedAndOthersKeepRunning(t *testing.T) {
	h := newHarness(t)
	two := `applications:
- name: app
  route_prefix: /app
  ingress: front
  deployments:
  - name: front
    replica: {command: [front]}
  - name: back
    replica: {command: [back]}
`
	h.apply(two)
	h.until("both running", func(s *Snapshot) bool { return settled(s, "app", "front", 1) && settled(s, "app", "back", 1) })
	h.apply(strings.Replace(two, "  - name: back\n    replica: {command: [back]}\n", "", 1))
	h.until("back gone", func(s *Snapshot) bool {
		_, ok := dep(s, "app", "back")
		return !ok && settled(s, "app", "front", 1)
	})
	h.stopped("the removed deployment's replica", func(in *fakeInstance) bool { return in.spec.Deployment == "back" })
	for _, in := range h.b.started() {
		if in.spec.Deployment == "front" && in.exited() {
			t.Error("the remaining deployment's replica was stopped")
		}
	}
}

func TestRunStopsEveryReplicaWhenItEnds(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("num_replicas: 2", "replica: {command: [model]}"))
	h.until("2 replicas", func(s *Snapshot) bool { return settled(s, "app", "d", 2) })
	h.stop()
	for _, in := range h.b.started() {
		if !in.exited() {
			t.Errorf("replica %s still runs after Run returned", in.spec.ID)
		}
	}
}

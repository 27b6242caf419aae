package deploy

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/router"
)

// Whether requests queue or fail at once, on a fake Backend and a fake
// clock (see fake_test.go): they queue while a replica may come, and fail
// at once, with the reason, once none will.

// acquire takes a slot on app's deployment, giving up after within, and
// returns the replica (released at once) or the error.
func (h *harness) acquire(app string) (*router.Replica, error) {
	h.t.Helper()
	d, ok := h.router.Table().Application(app)
	if !ok {
		h.t.Fatalf("no route to application %s", app)
	}
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	r, err := d.Acquire(ctx)
	if err == nil {
		d.Release(r)
	}
	return r, err
}

// unavailable returns the reason of an *router.UnavailableError, failing
// the test on any other error.
func unavailable(t *testing.T, err error) string {
	t.Helper()
	var u *router.UnavailableError
	if !errors.As(err, &u) {
		t.Fatalf("Acquire: %v; want an UnavailableError", err)
	}
	return u.Reason
}

func TestDeployFailedDeploymentFailsRequestsAtOnce(t *testing.T) {
	h := newHarness(t)
	h.b.setPlan(func(ReplicaSpec) fakePlan {
		return fakePlan{exitAtOnce: true, exitCode: 3, log: []string{"token=s3cret"}}
	})
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model]}"))

	// The first replica crashes; another will start after the backoff, so a
	// request queues for it rather than failing.
	h.until("the first crash", func(*Snapshot) bool { return len(h.eventsOf(EventReplicaCrashed)) == 1 })
	queued := make(chan error, 1)
	go func() { _, err := h.acquire("app"); queued <- err }()
	d, _ := h.router.Table().Application("app")
	h.until("the request queued", func(*Snapshot) bool { return d.Queued() == 1 })
	if r := d.Unavailable(); r != "" {
		t.Fatalf("unavailable (%q) while a restart is coming", r)
	}

	h.advanceUntil("DEPLOY_FAILED", 100*time.Millisecond, func(s *Snapshot) bool {
		return s.Applications[0].Status == AppDeployFailed
	})
	// The events say what follows each crash: a start after the backoff,
	// then nothing until the config changes.
	crashes := h.eventsOf(EventReplicaCrashed)
	if len(crashes) != 3 {
		t.Fatalf("%d crash events, want 3", len(crashes))
	}
	for i, want := range []string{"next start in 500ms", "next start in 1s",
		"the deployment is DEPLOY_FAILED: no replica will start until the config changes"} {
		if !strings.HasSuffix(crashes[i].Message, "; "+want) {
			t.Errorf("crash event %d: %q; want it to end with %q", i+1, crashes[i].Message, want)
		}
	}

	// The queued request and a new one fail at once, with the reason but
	// not the replica's log (the operator's, not the client's).
	for i, err := range []error{<-queued, func() error { _, err := h.acquire("app"); return err }()} {
		reason := unavailable(t, err)
		if !strings.HasPrefix(reason, "deployment app/d is DEPLOY_FAILED: 3 replicas in a row failed to start; the last: replica app#d#") ||
			!strings.Contains(reason, "exited with exit status 3 before becoming healthy") ||
			!strings.HasSuffix(reason, "; no replica will start until the config changes") || strings.Contains(reason, "s3cret") {
			t.Errorf("request %d: reason %q", i+1, reason)
		}
	}
	// A config that works brings replicas back, and requests go to them.
	h.b.setPlan(func(ReplicaSpec) fakePlan { return fakePlan{} })
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model, --fixed]}"))
	if r := d.Unavailable(); r != "" {
		t.Errorf("still unavailable (%q) with a new replica starting", r)
	}
	h.advanceUntil("RUNNING", 100*time.Millisecond, func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
	if _, err := h.acquire("app"); err != nil {
		t.Errorf("Acquire after the fix: %v", err)
	}
}

func TestZeroReplicasWithoutAutoscalingFailRequestsAtOnce(t *testing.T) {
	h := newHarness(t)
	h.apply(appYAML("num_replicas: 0", "replica: {command: [model]}"))
	_, err := h.acquire("app")
	if reason := unavailable(t, err); reason != "deployment app/d has num_replicas: 0 and no autoscaling_config" {
		t.Errorf("reason %q", reason)
	}
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model]}"))
	h.until("RUNNING", func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
	if _, err := h.acquire("app"); err != nil {
		t.Errorf("Acquire with one replica: %v", err)
	}
	// Scaled back to zero: the replica drains, and requests fail at once again.
	h.apply(appYAML("num_replicas: 0", "replica: {command: [model]}"))
	_, err = h.acquire("app")
	if reason := unavailable(t, err); !strings.Contains(reason, "num_replicas: 0") {
		t.Errorf("reason %q", reason)
	}
}

// Requests waiting for a deployment that is removed from the config end at
// once: its route is gone, and nothing will serve them.
func TestRemovedDeploymentFailsItsQueuedRequests(t *testing.T) {
	h := newHarness(t)
	h.b.setPlan(func(ReplicaSpec) fakePlan { return fakePlan{unhealthy: true} })
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model]}"))
	d, _ := h.router.Table().Application("app")
	queued := make(chan error, 1)
	go func() { _, err := h.acquire("app"); queued <- err }()
	h.until("the request queued", func(*Snapshot) bool { return d.Queued() == 1 })
	h.apply(strings.Replace(appYAML("num_replicas: 1", "replica: {command: [model]}"), "name: app\n  route_prefix: /app", "name: other\n  route_prefix: /other", 1))
	if reason := unavailable(t, <-queued); reason != "application app is being deleted" {
		t.Errorf("reason %q", reason)
	}
}

package deploy

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/router"
)

// harness runs a Controller on a fakeBackend and a fakeClock (see
// fake_test.go for why they are fakes).
type harness struct {
	t      *testing.T
	c      *Controller
	b      *fakeBackend
	clock  *fakeClock
	router *router.Router
	stop   func() // ends Run and waits for it; called by Cleanup too
}

// within bounds every wait of these tests; the clock they drive is fake,
// so only goroutine scheduling and loopback HTTP take real time.
const within = 20 * time.Second

// newHarness starts a controller; opts may set Options fields the harness
// does not (Store, Follower, Detach).
func newHarness(t *testing.T, opts ...func(*Options)) *harness {
	t.Helper()
	clock := newFakeClock()
	h := &harness{t: t, clock: clock, b: newFakeBackend(clock), router: router.New()}
	o := Options{Backend: h.b, Router: h.router, Clock: clock}
	for _, f := range opts {
		f(&o)
	}
	h.c = NewController(o)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.c.Run(ctx) }()
	stopped := false
	h.stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(within):
			t.Errorf("Run did not return within %v of its context ending", within)
		}
	}
	// Replicas left running (Options.Detach) end after Run does.
	t.Cleanup(func() {
		for _, in := range h.b.started() {
			in.finish(nil)
		}
	})
	t.Cleanup(h.stop)
	return h
}

// parseConfig parses a YAML config, failing the test if it is invalid.
func parseConfig(t *testing.T, yaml string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("config:\n%s\n%v", yaml, err)
	}
	return cfg
}

// apply applies a YAML config and returns once the controller took it.
func (h *harness) apply(yaml string) {
	h.t.Helper()
	h.applyConfig(parseConfig(h.t, yaml))
}

// applyConfig applies cfg and returns once the controller took it.
func (h *harness) applyConfig(cfg *config.Config) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if err := h.c.Apply(ctx, cfg); err != nil {
		h.t.Fatalf("Apply: %v", err)
	}
}

// stopped waits until every instance for which gone holds has exited.
func (h *harness) stopped(what string, gone func(*fakeInstance) bool) {
	h.t.Helper()
	if !testenv.Eventually(within, func() bool {
		for _, in := range h.b.started() {
			if gone(in) && !in.exited() {
				return false
			}
		}
		return true
	}) {
		h.t.Fatalf("%s: still running", what)
	}
}

// until polls the snapshot until cond holds, and returns it; it fails the
// test with what it saw last when the deadline passes.
func (h *harness) until(what string, cond func(*Snapshot) bool) *Snapshot {
	h.t.Helper()
	return h.advanceUntil(what, 0, cond)
}

// advanceUntil is until, moving the clock on by step before each look: for
// what takes controller time (backoff, health-check periods, delays).
func (h *harness) advanceUntil(what string, step time.Duration, cond func(*Snapshot) bool) *Snapshot {
	h.t.Helper()
	var snap *Snapshot
	if !testenv.Eventually(within, func() bool {
		if step > 0 {
			h.clock.Advance(step)
		}
		snap = h.c.Snapshot()
		return cond(snap)
	}) {
		h.t.Fatalf("never %s; last status:\n%s", what, dump(snap))
	}
	return snap
}

// dump renders a snapshot for a failure message.
func dump(s *Snapshot) string {
	if s == nil {
		return "none"
	}
	b, _ := json.MarshalIndent(s.Applications, "", "  ")
	return string(b)
}

// dep returns deployment name of application app from snap.
func dep(snap *Snapshot, app, name string) (DeploymentStatus, bool) {
	for _, a := range snap.Applications {
		if a.Name != app {
			continue
		}
		for _, d := range a.Deployments {
			if d.Deployment == name {
				return d, true
			}
		}
	}
	return DeploymentStatus{}, false
}

// settled reports whether deployment app/name is HEALTHY with n replicas,
// all RUNNING.
func settled(snap *Snapshot, app, name string, n int) bool {
	d, ok := dep(snap, app, name)
	if !ok || d.Status != DeploymentHealthy || len(d.Replicas) != n {
		return false
	}
	for _, r := range d.Replicas {
		if r.State != "RUNNING" {
			return false
		}
	}
	return true
}

// ids returns the ids of d's replicas.
func ids(d DeploymentStatus) []string {
	var out []string
	for _, r := range d.Replicas {
		out = append(out, r.ID)
	}
	return out
}

// pool returns the addresses the router sends app's traffic to.
func (h *harness) pool(app string) []string {
	d, ok := h.router.Table().Application(app)
	if !ok {
		return nil
	}
	var out []string
	for _, r := range d.Replicas() {
		out = append(out, r.Addr())
	}
	return out
}

// events returns the kinds and messages the controller recorded, in order.
func (h *harness) events() []Event {
	evs, _ := h.c.Events().Since(0)
	return evs
}

// eventsOf returns the recorded events of kind.
func (h *harness) eventsOf(kind EventKind) []Event {
	var out []Event
	for _, e := range h.events() {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

// appYAML returns a config with one application "app" at /app whose one
// deployment "d" has the given YAML lines (indented by the caller's
// convention: each line starts at the deployment's field level).
func appYAML(depFields ...string) string {
	var b strings.Builder
	b.WriteString("applications:\n- name: app\n  route_prefix: /app\n  deployments:\n  - name: d\n")
	for _, f := range depFields {
		b.WriteString("    " + f + "\n")
	}
	return b.String()
}

package deploy

import (
	"context"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// Adoption, following and restoring, on a fake Backend and a fake clock
// (see fake_test.go).

// existingReplica makes a running fake replica of app/d at the code version
// of yaml, as another gateway would have started it.
func existingReplica(t *testing.T, h *harness, yaml, dep, suffix string) (*fakeInstance, Adopted) {
	t.Helper()
	var version string
	for _, s := range parseConfig(t, yaml).Specs("") {
		if s.Name == dep {
			version = s.CodeVersion
		}
	}
	spec := ReplicaSpec{ID: "app#" + dep + "#" + suffix, Application: "app", Deployment: dep, Hosts: 1, Version: version}
	in := newFakeInstance(spec, fakePlan{}, h.clock.Now())
	t.Cleanup(func() { in.finish(nil) })
	return in, Adopted{Instance: in, ID: spec.ID, Application: "app", Deployment: dep, Version: version, Slice: -1}
}

func TestFollowerMirrorsTheLeadersReplicasAndTheNewLeaderAdoptsThem(t *testing.T) {
	h := newHarness(t, func(o *Options) { o.Follower, o.Detach = true, true })
	yaml := appYAML("num_replicas: 3", "replica: {command: [model]}")
	a, adoptA := existingReplica(t, h, yaml, "d", "aaaa")
	b, adoptB := existingReplica(t, h, yaml, "d", "bbbb")
	h.b.setExisting([]Adopted{adoptA, adoptB})
	h.apply(yaml)

	// A follower routes to the replicas that exist and starts none.
	h.advanceUntil("both existing replicas RUNNING", 100*time.Millisecond, func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		running := 0
		for _, r := range d.Replicas {
			if r.State == "RUNNING" {
				running++
			}
		}
		return running == 2
	})
	pool := h.pool("app")
	slices.Sort(pool)
	if want := []string{a.Address(), b.Address()}; !slices.Equal(pool, sorted(want)) {
		t.Errorf("follower's pool %v, want the existing replicas %v", pool, want)
	}
	if n := len(h.b.started()); n != 0 {
		t.Fatalf("a follower started %d replicas", n)
	}

	// One goes away on the leader's side: the follower drops it from its
	// pool and leaves the process alone.
	h.b.setExisting([]Adopted{adoptA})
	h.advanceUntil("b forgotten", 100*time.Millisecond, func(s *Snapshot) bool {
		_, ok := s.Replica(adoptB.ID)
		return !ok
	})
	if b.stops.Load() != 0 {
		t.Error("a follower stopped a replica")
	}
	if pool := h.pool("app"); !slices.Equal(pool, []string{a.Address()}) {
		t.Errorf("pool %v, want only %s", pool, a.Address())
	}

	// Becoming the leader adopts what exists, stops what the config has no
	// place for, and starts what is missing.
	orphan, adoptOrphan := existingReplica(t, h, yaml, "removed", "cccc")
	h.b.setExisting([]Adopted{adoptA, adoptOrphan})
	h.c.SetLeader(true)
	snap := h.advanceUntil("3 replicas as the leader", 100*time.Millisecond, func(s *Snapshot) bool { return settled(s, "app", "d", 3) })
	if _, ok := snap.Replica(adoptA.ID); !ok {
		t.Error("the new leader did not keep the existing replica")
	}
	if n := len(h.b.started()); n != 2 {
		t.Errorf("the new leader started %d replicas, want 2 beside the adopted one", n)
	}
	if !testenv.Eventually(within, orphan.exited) {
		t.Error("the leader left a replica of a deployment the config does not have")
	}

	// With Detach, the replicas outlive the gateway.
	h.stop()
	if a.exited() {
		t.Error("Detach: the adopted replica was stopped when Run ended")
	}
	for _, in := range h.b.started() {
		if in.exited() {
			t.Errorf("Detach: replica %s was stopped when Run ended", in.spec.ID)
		}
	}
}

func TestRestoreBringsTheSavedConfigBack(t *testing.T) {
	store := &Store{Path: filepath.Join(t.TempDir(), "applied.json")}
	first := newHarness(t, func(o *Options) { o.Store = store })
	if ok, err := first.c.Restore(context.Background()); ok || err != nil {
		t.Fatalf("Restore with nothing saved: %v, %v", ok, err)
	}
	first.apply(appYAML("num_replicas: 2", "user_config: {a: 1}", "replica: {command: [model]}"))
	first.until("2 replicas", func(s *Snapshot) bool { return settled(s, "app", "d", 2) })
	first.stop()

	second := newHarness(t, func(o *Options) { o.Store = store })
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	if ok, err := second.c.Restore(ctx); !ok || err != nil {
		t.Fatalf("Restore: %v, %v", ok, err)
	}
	snap := second.until("2 replicas again", func(s *Snapshot) bool { return settled(s, "app", "d", 2) })
	if d, _ := dep(snap, "app", "d"); string(d.Spec.UserConfig) != `{"a":1}` || snap.Config == nil {
		t.Errorf("restored deployment %+v", d.Spec)
	}
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

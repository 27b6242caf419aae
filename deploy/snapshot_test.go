package deploy

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gantry.dev/gantry/router"
)

// TestSnapshotIsPublishedOnlyWhenSomethingChanged drives the control loop by
// hand (apply, pass, handle: what Run does) on a fake Backend and a fake
// clock (see fake_test.go), so that "no change in between" is exact.
func TestSnapshotIsPublishedOnlyWhenSomethingChanged(t *testing.T) {
	clock := newFakeClock()
	rt := router.New()
	c := NewController(Options{Backend: newFakeBackend(clock), Router: rt, Clock: clock})
	t.Cleanup(c.shutdown) // stops the replica and waits for every goroutine

	empty := c.Snapshot()
	if empty == nil || empty.Config != nil || len(empty.Applications) != 0 || c.Snapshot() != empty {
		t.Fatalf("before any config: %+v", empty)
	}
	c.apply(parseConfig(t, appYAML("num_replicas: 1", "replica: {command: [model]}")))
	c.pass()
	applied := c.Snapshot()
	if applied == empty || applied.Config == nil || len(applied.Applications) != 1 {
		t.Fatalf("a config applied published no new snapshot: %s", dump(applied))
	}
	clock.Advance(time.Second)
	c.pass()
	c.pass()
	if c.Snapshot() != applied {
		t.Fatal("passes with no change published a new snapshot")
	}

	c.handle(<-c.events) // the backend started the replica
	c.pass()
	started := c.Snapshot()
	if started == applied {
		t.Fatal("the replica's start published no new snapshot")
	}
	if r := started.Applications[0].Deployments[0].Replicas[0]; r.State != "STARTING" || r.Address == "" {
		t.Errorf("started replica %+v; want STARTING with its address", r)
	}
	c.handle(<-c.events) // its first health check passed
	c.pass()
	running := c.Snapshot()
	if running == started || !settled(running, "app", "d", 1) {
		t.Fatalf("the replica becoming healthy: same snapshot %v, %s", running == started, dump(running))
	}
	if started.Applications[0].Deployments[0].Replicas[0].State != "STARTING" {
		t.Error("an earlier snapshot changed after it was published")
	}
	c.pass()
	if c.Snapshot() != running {
		t.Fatal("a pass with no change published a new snapshot")
	}
	// Nothing changed unseen: a snapshot built afresh equals the published one.
	if fresh, _ := c.buildSnapshot(); !reflect.DeepEqual(fresh, running) {
		t.Errorf("published snapshot is stale:\n%s\nfresh:\n%s", dump(running), dump(fresh))
	}

	// Requests in flight change no snapshot; Traffic reads them from the router.
	rd, _ := rt.Table().Application("app")
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	held, err := rd.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	id := running.Applications[0].Deployments[0].Replicas[0].ID
	if tr := c.Traffic("app", "d"); tr.Inflight[id] != 1 || tr.Queued != 0 {
		t.Errorf("Traffic = %+v; want 1 in flight at %s", tr, id)
	}
	c.pass()
	if c.Snapshot() != running {
		t.Error("a request in flight published a new snapshot")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(c))
	want := `
# HELP gantry_replica_ongoing_requests Requests a replica is serving.
# TYPE gantry_replica_ongoing_requests gauge
gantry_replica_ongoing_requests{application="app",deployment="d",replica="` + id + `"} 1
# HELP gantry_target_replicas Replicas the controller aims for.
# TYPE gantry_target_replicas gauge
gantry_target_replicas{application="app",deployment="d"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "gantry_replica_ongoing_requests", "gantry_target_replicas"); err != nil {
		t.Error(err)
	}
	rd.Release(held)
	if tr := c.Traffic("app", "d"); tr.Inflight[id] != 0 {
		t.Errorf("Traffic after release = %+v", tr)
	}
	if tr := c.Traffic("app", "nope"); tr.Inflight != nil || tr.Queued != 0 {
		t.Errorf("Traffic of an unknown deployment = %+v", tr)
	}
	log, ok := c.ReplicaLog(id)
	if _, follows := log.Follower(); !ok || !follows || log.Tail(5) != nil {
		t.Errorf("ReplicaLog(%s) = %v, follower %v", id, ok, follows)
	}
	if _, ok := c.ReplicaLog("app#d#none"); ok {
		t.Error("ReplicaLog of an unknown replica")
	}
}

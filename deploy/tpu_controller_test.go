package deploy

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// Placement on TPU slices and on backends that place replicas themselves,
// on a fake Backend and a fake clock (see fake_test.go).

// tpuConfig has a worker group of slices 2x2x2 slices (8 chips over 2
// hosts) and deployment "d" asking for a whole slice per replica.
func tpuConfig(slices, replicas int, command string) string {
	return fmt.Sprintf(`worker_groups:
- name: tpu
  accelerator: tpu-v4-podslice
  topology: 2x2x2
  chips_per_host: 4
  replicas: %d
applications:
- name: app
  route_prefix: /app
  deployments:
  - name: d
    num_replicas: %d
    ray_actor_options: {resources: {TPU: 8}}
    replica: {command: [%s]}
`, slices, replicas, command)
}

func TestTPUReplicaWithoutAFreeSliceIsPendingUntilOneIsAdded(t *testing.T) {
	h := newHarness(t)
	h.apply(tpuConfig(1, 2, "model"))
	snap := h.until("one RUNNING and one PENDING", func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		states := map[string]int{}
		for _, r := range d.Replicas {
			states[string(r.State)]++
		}
		return states["RUNNING"] == 1 && states["PENDING"] == 1
	})
	d, _ := dep(snap, "app", "d")
	if d.Status != DeploymentUpdating || !strings.Contains(d.Message, "waits for a free TPU slice: worker group tpu (tpu-v4-podslice 2x2x2, 8 chips, 2 hosts) has all 1 slices in use") {
		t.Errorf("deployment %s %q; want UPDATING with why the replica waits", d.Status, d.Message)
	}
	if e := h.eventsOf(EventReplicaPending); len(e) != 1 || e[0].Level != "warning" {
		t.Errorf("pending events %+v", e)
	}
	started := h.b.started()
	if len(started) != 1 {
		t.Fatalf("%d replicas started with one slice, want 1", len(started))
	}
	s := started[0].spec
	if s.Hosts != 2 || s.Group == nil || s.Group.Name != "tpu" || s.Slice != 0 || len(s.MemberEnv) != 2 ||
		s.MemberEnv[1]["TPU_WORKER_ID"] != "1" || s.MemberEnv[0]["TPU_NAME"] != "tpu-0" ||
		s.MemberEnv[0]["TPU_WORKER_HOSTNAMES"] != "tpu-0-0,tpu-0-1" {
		t.Errorf("replica on a slice started with hosts %d, group %v, slice %d, env %v", s.Hosts, s.Group, s.Slice, s.MemberEnv)
	}
	if r, _ := snap.Replica(s.ID); r.Group != "tpu" || r.Slice != 0 || len(r.Members) != 2 {
		t.Errorf("status of the replica on the slice: %+v", r)
	}

	h.apply(tpuConfig(2, 2, "model"))
	h.until("both RUNNING", func(s *Snapshot) bool { return settled(s, "app", "d", 2) })
	if s := h.b.started()[1].spec; s.Slice != 1 || s.MemberEnv[0]["TPU_NAME"] != "tpu-1" {
		t.Errorf("second replica on slice %d with %v, want slice 1", s.Slice, s.MemberEnv[0])
	}
}

func TestTPURolloutWithoutASpareSliceReplacesInPlace(t *testing.T) {
	h := newHarness(t)
	h.apply(tpuConfig(2, 2, "model, v1"))
	snap := h.until("both RUNNING", func(s *Snapshot) bool { return settled(s, "app", "d", 2) })
	d1, _ := dep(snap, "app", "d")
	least := watchPool(t, h, "app")

	h.apply(tpuConfig(2, 2, "model, v2"))
	h.advanceUntil("both replaced", 50*time.Millisecond, func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		return settled(s, "app", "d", 2) && d.Replicas[0].Version != d1.Spec.CodeVersion && d.Replicas[1].Version != d1.Spec.CodeVersion
	})
	if n := least(); n < 1 {
		t.Errorf("the pool went empty during an in-place TPU rollout")
	}
	started := h.b.started()
	if len(started) != 4 {
		t.Fatalf("%d replicas started, want 4", len(started))
	}
	// Each new replica took the slice an old one gave back, so the slices
	// in use never exceeded the group's two.
	for _, in := range started[2:] {
		if in.spec.Slice < 0 || in.spec.Slice > 1 {
			t.Errorf("new replica on slice %d", in.spec.Slice)
		}
	}
}

func TestPlacedInstanceIsPendingWithTheBackendsReason(t *testing.T) {
	h := newHarness(t)
	h.b.setPlan(func(ReplicaSpec) fakePlan {
		return fakePlan{placeLater: "0/3 nodes are available: 3 Insufficient google.com/tpu"}
	})
	h.apply(appYAML("num_replicas: 1", "replica: {command: [model]}"))
	snap := h.until("PENDING", func(s *Snapshot) bool {
		d, _ := dep(s, "app", "d")
		return len(d.Replicas) == 1 && d.Replicas[0].State == "PENDING"
	})
	d, _ := dep(snap, "app", "d")
	if !strings.Contains(d.Message, "is pending: 0/3 nodes are available") {
		t.Errorf("message %q; want the backend's reason", d.Message)
	}
	h.b.started()[0].place()
	h.advanceUntil("RUNNING once placed", 100*time.Millisecond, func(s *Snapshot) bool { return settled(s, "app", "d", 1) })
}

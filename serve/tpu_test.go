package serve_test

import (
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/replica"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/servetest"
)

// tpuConfig runs n replicas that each want a whole v4 2x2x2 slice (8 chips
// over 2 hosts) on a worker group of 2 such slices.
func tpuConfig(t *testing.T, n int, env string) *config.Config {
	t.Helper()
	yaml := fmt.Sprintf(`
worker_groups:
- {name: tpu, accelerator: tpu-v4-podslice, topology: 2x2x2, chips_per_host: 4, replicas: 2}
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    num_replicas: %d
    health_check_period_s: 0.5
    graceful_shutdown_timeout_s: 5
    ray_actor_options: {resources: {TPU: 8}}
    replica: {command: [TESTREPLICA], env: {BUILD: %q}}
`, n, env)
	cfg, err := config.Parse([]byte(servetest.WithTestReplica(yaml)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// replicasIn returns the only deployment's replicas by state.
func replicasIn(srv *serve.Server, state replica.State) []deploy.ReplicaStatus {
	var out []deploy.ReplicaStatus
	for _, d := range srv.Controller().Status() {
		for _, r := range d.Replicas {
			if r.State == state {
				out = append(out, r)
			}
		}
	}
	return out
}

func TestReplicasTakeWholeSlicesAndWaitWhenNoneIsFree(t *testing.T) {
	srv, url := servetest.GatewayWith(t, "")
	servetest.Apply(t, srv, tpuConfig(t, 3, "v1"))
	if !testenv.Eventually(30*time.Second, func() bool {
		return len(replicasIn(srv, replica.Running)) == 2 && len(replicasIn(srv, replica.Pending)) == 1
	}) {
		t.Fatalf("want 2 RUNNING and 1 PENDING: %+v", srv.Controller().Status())
	}
	d := srv.Controller().Status()[0]
	if !strings.Contains(d.Message, "waits for a free TPU slice") || !strings.Contains(d.Message, "2x2x2") {
		t.Errorf("PENDING message %q does not say it waits for a slice of that shape", d.Message)
	}
	var held []int
	for _, r := range replicasIn(srv, replica.Running) {
		if len(r.Members) != 2 || r.Members[0].PID == r.Members[1].PID || !testenv.Alive(r.Members[1].PID) {
			t.Fatalf("replica %s: want 2 live processes, got %+v", r.ID, r.Members)
		}
		held = append(held, r.Slice)
		// Each member sees KubeRay's TPU environment for its host.
		for _, m := range r.Members {
			host := fmt.Sprint(m.Host)
			name := fmt.Sprintf("tpu-%d", r.Slice)
			want := map[string]string{
				"TPU_WORKER_ID": host, "TPU_NAME": name, "GANTRY_REPLICA_INDEX": fmt.Sprint(r.Slice),
				"TPU_WORKER_HOSTNAMES": name + "-0," + name + "-1",
			}
			for k, v := range want {
				if got := servetest.GetBody(t, "http://"+m.Address+"/env?name="+k); got != v {
					t.Errorf("replica %s host %s: %s=%q, want %q", r.ID, host, k, got, v)
				}
			}
		}
	}
	slices.Sort(held)
	if !slices.Equal(held, []int{0, 1}) {
		t.Errorf("RUNNING replicas hold slices %v, want 0 and 1", held)
	}
	// Traffic goes to host 0 of each slice only.
	for range 20 {
		if got := servetest.GetBody(t, url+"/env?name=TPU_WORKER_ID"); got != "0" {
			t.Fatalf("a request reached TPU_WORKER_ID=%q", got)
		}
	}
	// Ray's view has no PENDING: it shows STARTING.
	ray := servetest.GetBody(t, "http://"+srv.DashboardAddr()+"/api/serve/applications/")
	if strings.Contains(ray, "PENDING") || !strings.Contains(ray, `"STARTING"`) {
		t.Errorf("Ray's view should show the PENDING replica as STARTING: %s", ray)
	}
	gantry := servetest.GetBody(t, "http://"+srv.DashboardAddr()+"/api/gantry/applications")
	if !strings.Contains(gantry, `"PENDING"`) || !strings.Contains(gantry, `"members"`) || !strings.Contains(gantry, `"slice"`) {
		t.Errorf("Gantry's view lacks PENDING, slices or members: %s", gantry)
	}
}

func TestKillingHostOneRestartsTheWholeGroupOnly(t *testing.T) {
	srv, url := servetest.GatewayWith(t, "")
	servetest.Apply(t, srv, tpuConfig(t, 2, "v1"))
	settle(t, srv, deploy.AppRunning, 2)
	rs := replicasIn(srv, replica.Running)
	victim, other := rs[0], rs[1]

	stop := load(url+"/slow?ms=20", 4)
	if err := killPID(victim.Members[1].PID); err != nil {
		t.Fatal(err)
	}
	if !testenv.Eventually(30*time.Second, func() bool {
		return !testenv.Alive(victim.Members[0].PID) && len(replicasIn(srv, replica.Running)) == 2
	}) {
		t.Fatalf("the group with a dead host 1 was not restarted as a whole: %+v", srv.Controller().Status())
	}
	ok, failures := stop()
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed while one slice restarted; first: %s", len(failures), ok, failures[0])
	}
	for _, m := range other.Members {
		if !testenv.Alive(m.PID) {
			t.Fatalf("the other replica's member %d (pid %d) stopped", m.Host, m.PID)
		}
	}
	for _, r := range replicasIn(srv, replica.Running) {
		if r.ID != other.ID && r.Slice != victim.Slice {
			t.Errorf("the restarted group moved from slice %d to %d", victim.Slice, r.Slice)
		}
	}
}

func TestRollingUpdateOnAFullGroupReplacesInPlace(t *testing.T) {
	srv, url := servetest.GatewayWith(t, "")
	servetest.Apply(t, srv, tpuConfig(t, 2, "v1"))
	before := settle(t, srv, deploy.AppRunning, 2)

	stop := load(url+"/slow?ms=20", 4)
	servetest.Apply(t, srv, tpuConfig(t, 2, "v2"))
	// Slices in use = replicas with live processes (each runs on a whole
	// slice), sampled through the rollout; the allocator alone could not
	// show a replica started beside its slice.
	most := 0
	testenv.Eventually(60*time.Second, func() bool {
		using := 0
		for _, d := range srv.Controller().Status() {
			for _, r := range d.Replicas {
				for _, m := range r.Members {
					if testenv.Alive(m.PID) {
						using++
						break
					}
				}
			}
		}
		most = max(most, using)
		app := srv.Controller().Snapshot().Applications[0]
		return app.Status == deploy.AppRunning && len(replicasIn(srv, replica.Running)) == 2 &&
			servetest.GetBody(t, url+"/env?name=BUILD") == "v2"
	})
	after := settle(t, srv, deploy.AppRunning, 2)
	ok, failures := stop()
	t.Logf("%d requests during the in-place rollout, %d failed; at most %d slices in use", ok, len(failures), most)
	if len(failures) > 0 {
		t.Fatalf("%d requests failed; first: %s", len(failures), failures[0])
	}
	if most > 2 {
		t.Fatalf("%d slices in use at once on a group of 2", most)
	}
	for _, pid := range before {
		if slices.Contains(after, pid) {
			t.Fatalf("replica %d was not replaced", pid)
		}
	}
}

func killPID(pid int) error { return syscall.Kill(pid, syscall.SIGKILL) }

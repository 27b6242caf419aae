package admin

import (
	"encoding/json"
	"net/http"
	"reflect"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
)

// Unit tests of the Ray and Gantry views, built from status values by an
// admin Server that never runs.

// listening stands for the HTTP ingress the views describe: only its
// address is read (a view is built from status values, nothing is served).
type listening struct{ addr string }

func (l listening) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) })
}
func (l listening) HTTPAddr() string { return l.addr }
func (l listening) Draining() bool   { return false }

// obj returns v[key] as an object.
func obj(t *testing.T, v map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := v[key].(map[string]any)
	if !ok {
		t.Fatalf("%q is %T (%v), want an object", key, v[key], v[key])
	}
	return o
}

// TestRayViewMapsWhatRayCannotHold checks the mapping of values Ray's
// models would reject: PENDING, num_replicas 0, a user_config that is not
// an object, an application not exposed over HTTP, autoscaling.
func TestRayViewMapsWhatRayCannotHold(t *testing.T) {
	srv, err := New(Options{Controller: deploy.NewController(deploy.Options{}), Registry: prometheus.NewRegistry(),
		Ingress: listening{"127.0.0.1:8000"}, Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	gpus, mem := 2.0, 1e9
	started := time.Unix(1700000000, 500_000_000)
	cfg, err := config.Parse([]byte(`
worker_groups:
- {name: tpu-group, accelerator: tpu-v4-podslice, topology: 2x2x1, chips_per_host: 4, replicas: 1}
applications:
- name: hidden
  route_prefix: null
  deployments:
  - name: zero
    num_replicas: 0
    user_config: [1, 2]
    ray_actor_options: {num_gpus: 2, memory: 1000000000, resources: {TPU: 4}}
    replica: {command: [x]}
  - name: auto
    num_replicas: auto
    replica: {command: [x]}
`))
	if err != nil {
		t.Fatal(err)
	}
	specs := cfg.Specs("")
	app := deploy.AppStatus{Name: "hidden", Status: deploy.AppDeploying, LastDeployedTime: started, Deployments: []deploy.DeploymentStatus{
		{Application: "hidden", Deployment: "zero", Status: deploy.DeploymentUpdating, Trigger: deploy.TriggerConfigUpdateStarted,
			Config: cfg.Applications[0].Deployments[0], Spec: specs[0], Replicas: []deploy.ReplicaStatus{
				{ID: "hidden#zero#1", State: "PENDING", StartedAt: started},
				{ID: "hidden#zero#2", State: "RUNNING", PID: 42, Address: "10.0.0.7:9999", StartedAt: started, LogPath: "/l"},
			}},
		{Application: "hidden", Deployment: "auto", Status: deploy.DeploymentHealthy, Config: cfg.Applications[0].Deployments[1], Spec: specs[1], Target: 1},
	}}
	b, err := json.Marshal(srv.rayApplication(app))
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	json.Unmarshal(b, &v)
	if v["route_prefix"] != nil || v["last_deployed_time_s"] != 1700000000.5 {
		t.Errorf("application: %s", b)
	}
	zero := obj(t, obj(t, v, "deployments"), "zero")
	zc := obj(t, zero, "deployment_config")
	if _, ok := zc["num_replicas"]; ok {
		t.Errorf("num_replicas 0 written (Ray wants >= 1): %v", zc)
	}
	if _, ok := zc["user_config"]; ok {
		t.Errorf("a list user_config written (Ray wants an object): %v", zc)
	}
	if want := map[string]any{"CPU": 1.0, "GPU": gpus, "memory": mem, "TPU": 4.0}; !reflect.DeepEqual(zero["required_resources"], want) {
		t.Errorf("required_resources = %v, want %v", zero["required_resources"], want)
	}
	reps := zero["replicas"].([]any)
	r0, r1 := reps[0].(map[string]any), reps[1].(map[string]any)
	if r0["state"] != "STARTING" || r0["pid"] != nil || r0["log_file_path"] != nil {
		t.Errorf("PENDING replica in Ray's view: %v", r0)
	}
	if r1["state"] != "RUNNING" || r1["pid"] != 42.0 || r1["node_ip"] != "10.0.0.7" || r1["start_time_s"] != 1700000000.5 {
		t.Errorf("RUNNING replica in Ray's view: %v", r1)
	}
	auto := obj(t, obj(t, v, "deployments"), "auto")
	ac := obj(t, auto, "deployment_config")
	if _, ok := ac["num_replicas"]; ok {
		t.Errorf("num_replicas written beside autoscaling_config (Ray refuses both): %v", ac)
	}
	if as := obj(t, ac, "autoscaling_config"); as["max_replicas"] != 100.0 || as["target_ongoing_requests"] != 2.0 {
		t.Errorf("autoscaling_config = %v", as)
	}
	if auto["status_trigger"] != "UNSPECIFIED" || auto["replicas"] == nil {
		t.Errorf("auto: %v", auto)
	}
	// Gantry's view keeps the state as it is.
	if g := srv.gantryReplica(app.Deployments[0].Replicas[0], 0); g.State != "PENDING" || g.RayReplica.State != "STARTING" {
		t.Errorf("gantry replica state %q (Ray's %q), want PENDING", g.State, g.RayReplica.State)
	}
}

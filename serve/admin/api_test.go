package admin_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/admin"
	"gantry.dev/gantry/serve/servetest"
)

// End-to-end tests of the REST API: an in-process gateway on free ports,
// real test replica processes, requests over real sockets.

// apiGateway starts a gateway with no config and returns it with its
// dashboard and ingress URLs.
func apiGateway(t *testing.T, token string) (srv *serve.Server, dashboard, ingress string) {
	t.Helper()
	srv = servetest.Start(t, serve.Options{AdminToken: token})
	return srv, "http://" + srv.DashboardAddr(), "http://" + srv.HTTPAddr()
}

// getJSON GETs url and decodes its JSON body into a generic value.
func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	code, _, body := servetest.Call(t, http.MethodGet, url, "", "")
	if code != http.StatusOK {
		t.Fatalf("GET %s: %d %s", url, code, body)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("GET %s: %v\n%s", url, err, body)
	}
	return v
}

// obj returns v[key] as an object, failing the test if it is not one.
func obj(t *testing.T, v map[string]any, key string) map[string]any {
	t.Helper()
	o, ok := v[key].(map[string]any)
	if !ok {
		t.Fatalf("%q is %T (%v), want an object", key, v[key], v[key])
	}
	return o
}

// keysAre checks that o has exactly the keys want: Ray's CLI rejects any
// field its models do not know.
func keysAre(t *testing.T, what string, o map[string]any, want ...string) {
	t.Helper()
	got := slices.Sorted(maps.Keys(o))
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s has keys %v, want exactly %v", what, got, want)
	}
}

var actorKeys = []string{"node_id", "node_ip", "node_instance_id", "actor_id", "actor_name", "worker_id", "log_file_path"}

// checkRayShape checks every object of a Ray ServeInstanceDetails answer
// for exactly Ray's keys.
func checkRayShape(t *testing.T, v map[string]any) {
	t.Helper()
	keysAre(t, "ServeInstanceDetails", v, "controller_info", "proxy_location", "http_options", "grpc_options",
		"proxies", "applications", "target_capacity")
	keysAre(t, "controller_info", obj(t, v, "controller_info"), actorKeys...)
	if obj(t, v, "controller_info")["node_id"] == nil {
		t.Errorf("controller_info.node_id is null: Ray's `serve shutdown` would say no Serve instance runs")
	}
	keysAre(t, "http_options", obj(t, v, "http_options"), "host", "port", "root_path", "request_timeout_s", "keep_alive_timeout_s")
	keysAre(t, "grpc_options", obj(t, v, "grpc_options"), "port", "grpc_servicer_functions")
	proxies := obj(t, v, "proxies")
	if len(proxies) != 1 {
		t.Errorf("%d proxies, want 1", len(proxies))
	}
	for id, p := range proxies {
		p := p.(map[string]any)
		keysAre(t, "proxies."+id, p, append(slices.Clone(actorKeys), "status")...)
		if p["status"] != "HEALTHY" || p["node_id"] != id {
			t.Errorf("proxy %s: status %v node_id %v", id, p["status"], p["node_id"])
		}
	}
	for name, a := range obj(t, v, "applications") {
		a := a.(map[string]any)
		keysAre(t, "applications."+name, a, "name", "route_prefix", "docs_path", "status", "message",
			"last_deployed_time_s", "deployed_app_config", "source", "deployments", "external_scaler_enabled")
		if a["deployed_app_config"] != nil {
			t.Errorf("applications.%s.deployed_app_config = %v, want null (Ray's schema needs an import_path)", name, a["deployed_app_config"])
		}
		for dn, d := range obj(t, a, "deployments") {
			d := d.(map[string]any)
			keysAre(t, "deployments."+dn, d, "name", "status", "status_trigger", "message", "deployment_config",
				"target_num_replicas", "required_resources", "replicas")
			dc := obj(t, d, "deployment_config")
			keysAre(t, "deployments."+dn+".deployment_config", dc, "name", "num_replicas", "max_ongoing_requests",
				"max_queued_requests", "user_config", "graceful_shutdown_wait_loop_s", "graceful_shutdown_timeout_s",
				"health_check_period_s", "health_check_timeout_s", "ray_actor_options")
			reps, ok := d["replicas"].([]any)
			if !ok {
				t.Fatalf("deployments.%s.replicas is %T, want a list", dn, d["replicas"])
			}
			for i, r := range reps {
				keysAre(t, "replicas["+strconv.Itoa(i)+"]", r.(map[string]any),
					append(slices.Clone(actorKeys), "replica_id", "state", "pid", "start_time_s")...)
			}
		}
	}
}

// rayReplicas returns the replicas of app/dep in a Ray answer: id → pid.
func rayReplicas(t *testing.T, v map[string]any, app, dep string) map[string]int {
	t.Helper()
	d := obj(t, obj(t, obj(t, v, "applications"), app), "deployments")
	out := map[string]int{}
	for _, r := range obj(t, d, dep)["replicas"].([]any) {
		r := r.(map[string]any)
		if r["state"] != "RUNNING" {
			continue
		}
		pid, _ := r["pid"].(float64)
		out[r["replica_id"].(string)] = int(pid)
	}
	return out
}

func appStatus(v map[string]any, app string) any {
	apps, _ := v["applications"].(map[string]any)
	a, _ := apps[app].(map[string]any)
	return a["status"]
}

const apiTestConfig = `
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    num_replicas: 2
    user_config: {greeting: hello}
    graceful_shutdown_timeout_s: 2
    replica:
      command: [TESTREPLICA]
      env: {TESTREPLICA_PID_DIR: PIDDIR}
`

func testConfig(pidDir string) string {
	r := strings.NewReplacer("TESTREPLICA", filepath.Join(servetest.BinDir, "testreplica"), "PIDDIR", pidDir)
	return r.Replace(apiTestConfig)
}

// TestRESTAPIDeployInvalidDelete drives the whole declarative cycle over
// HTTP: PUT a config, watch it reach RUNNING in Ray's exact shape, PUT an
// invalid one (refused, nothing changes), DELETE (replicas gone).
func TestRESTAPIDeployInvalidDelete(t *testing.T) {
	_, api, ingress := apiGateway(t, "")
	apps := api + "/api/serve/applications/"
	pidDir := t.TempDir()

	if v := getJSON(t, apps); len(obj(t, v, "applications")) != 0 {
		t.Fatalf("applications before any PUT: %v", v["applications"])
	}
	code, _, body := servetest.Call(t, http.MethodPut, apps, "", testConfig(pidDir))
	if code != http.StatusOK || body != "" {
		t.Fatalf("PUT: %d %q, want 200 and an empty body", code, body)
	}
	var v map[string]any
	if !testenv.Eventually(30*time.Second, func() bool {
		v = getJSON(t, apps)
		return appStatus(v, "app") == "RUNNING"
	}) {
		t.Fatalf("app never RUNNING: %v", v["applications"])
	}
	checkRayShape(t, v)
	a := obj(t, obj(t, v, "applications"), "app")
	d := obj(t, obj(t, a, "deployments"), "d")
	if a["route_prefix"] != "/" || a["source"] != "declarative" || d["status"] != "HEALTHY" ||
		d["status_trigger"] != "CONFIG_UPDATE_COMPLETED" || d["target_num_replicas"] != 2.0 {
		t.Errorf("app %v\ndeployment %v", a, d)
	}
	if uc := obj(t, obj(t, d, "deployment_config"), "user_config"); uc["greeting"] != "hello" {
		t.Errorf("deployment_config.user_config = %v", uc)
	}
	before := rayReplicas(t, v, "app", "d")
	if len(before) != 2 {
		t.Fatalf("RUNNING replicas %v, want 2", before)
	}
	for id, pid := range before {
		if pid <= 0 || !testenv.Alive(pid) {
			t.Errorf("replica %s: pid %d not a live process", id, pid)
		}
	}
	if code, _, body := servetest.Call(t, http.MethodGet, ingress+"/id", "", ""); code != 200 {
		t.Fatalf("GET /id through the ingress: %d %s", code, body)
	}

	// Gantry's view: the same applications plus what Ray lacks.
	var g admin.GantryInstance
	code, _, body = servetest.Call(t, http.MethodGet, api+"/api/gantry/applications", "", "")
	if code != 200 || json.Unmarshal([]byte(body), &g) != nil {
		t.Fatalf("GET /api/gantry/applications: %d %s", code, body)
	}
	ga := g.Applications["app"]
	gd := ga.Deployments["d"]
	if g.Config == nil || len(g.Config.Applications) != 1 || ga.DeployedAppConfig.Name != "app" || gd.Config.Name != "d" {
		t.Errorf("gantry view lacks the applied config: %s", body)
	}
	if string(gd.UserConfig) != `{"greeting":"hello"}` || gd.CodeVersion == "" || !gd.Ingress || len(gd.Replicas) != 2 {
		t.Errorf("gantry deployment view: %s", body)
	}
	for _, r := range gd.Replicas {
		if r.State != "RUNNING" || r.Version != gd.CodeVersion || r.Address == "" || r.PID == nil || before[r.ReplicaID] != *r.PID {
			t.Errorf("gantry replica view %+v", r)
		}
	}

	// An invalid config is refused with every problem and changes nothing.
	var seen uint64 // the last event before the invalid PUT
	if evs := servetest.Events(t, api); len(evs) > 0 {
		seen = evs[len(evs)-1].Seq
	}
	invalid := strings.Replace(testConfig(pidDir), "num_replicas: 2", "num_replicas: 2\n    max_ongoing_requests: -4\n    colour: blue", 1)
	code, hdr, body := servetest.Call(t, http.MethodPut, apps, "", invalid)
	if code != http.StatusBadRequest {
		t.Fatalf("PUT invalid: %d %s, want 400", code, body)
	}
	if !strings.HasPrefix(hdr.Get("Content-Type"), "text/plain") {
		t.Errorf("400 Content-Type %q, want text/plain", hdr.Get("Content-Type"))
	}
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if len(lines) != 2 {
		t.Errorf("400 body has %d lines, want one per problem (2):\n%s", len(lines), body)
	}
	for _, path := range []string{"applications[0].deployments[0].max_ongoing_requests: ", "applications[0].deployments[0].colour: "} {
		if !slices.ContainsFunc(lines, func(l string) bool { return strings.HasPrefix(l, path) }) {
			t.Errorf("400 body has no line starting %q:\n%s", path, body)
		}
	}
	// A PUT is answered only once the controller has taken the config it
	// accepted (Controller.Apply is synchronous), and taking one records
	// CONFIG_APPLIED before any replica changes: none may follow the refusal.
	for _, e := range servetest.Events(t, api) {
		switch e.Kind {
		case deploy.EventConfigApplied, deploy.EventDeploymentUpdated, deploy.EventReplicaStarting, deploy.EventReplicaDraining:
			if e.Seq > seen {
				t.Errorf("after the invalid PUT the controller recorded %s: %s", e.Kind, e.Message)
			}
		}
	}
	v = getJSON(t, apps)
	if after := rayReplicas(t, v, "app", "d"); !reflect.DeepEqual(after, before) || appStatus(v, "app") != "RUNNING" {
		t.Errorf("after the invalid PUT: status %v replicas %v, want RUNNING and %v", appStatus(v, "app"), after, before)
	}
	for range 5 {
		if code, _, body := servetest.Call(t, http.MethodGet, ingress+"/id", "", ""); code != 200 {
			t.Fatalf("GET /id after the invalid PUT: %d %s", code, body)
		}
	}

	// DELETE: every application goes, and its processes with it.
	if code, _, body := servetest.Call(t, http.MethodDelete, apps, "", ""); code != http.StatusOK {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	if !testenv.Eventually(30*time.Second, func() bool {
		v = getJSON(t, apps)
		return len(obj(t, v, "applications")) == 0
	}) {
		t.Fatalf("applications still listed after DELETE: %v", v["applications"])
	}
	checkRayShape(t, v)
	for id, pid := range before {
		if !testenv.Eventually(10*time.Second, func() bool { return !testenv.Alive(pid) }) {
			t.Errorf("replica %s (pid %d) still running after DELETE", id, pid)
		}
	}
	if code, _, _ := servetest.Call(t, http.MethodGet, ingress+"/id", "", ""); code != http.StatusNotFound {
		t.Errorf("GET /id after DELETE: %d, want 404", code)
	}
}

func TestRESTAPIAdminToken(t *testing.T) {
	const token = "s3cret-Token"
	_, api, _ := apiGateway(t, token)
	apps := api + "/api/serve/applications/"
	cfgDoc := testConfig(t.TempDir())

	for _, c := range []struct {
		method, url, token, body string
		want                     int
	}{
		{http.MethodPut, apps, "", cfgDoc, http.StatusUnauthorized},
		{http.MethodPut, apps, "wrong", cfgDoc, http.StatusUnauthorized},
		{http.MethodPut, apps, token + "x", cfgDoc, http.StatusUnauthorized},
		{http.MethodDelete, apps, "", "", http.StatusUnauthorized},
		{http.MethodPost, apps, "", "", http.StatusUnauthorized},
		{http.MethodGet, api + "/debug/pprof/cmdline", "", "", http.StatusUnauthorized},
		{http.MethodGet, apps, "", "", http.StatusOK},
		{http.MethodGet, api + "/api/gantry/applications", "", "", http.StatusOK},
		{http.MethodGet, api + "/api/ray/version", "", "", http.StatusOK},
		{http.MethodGet, api + "/metrics", "", "", http.StatusOK},
		{http.MethodGet, api + "/debug/pprof/cmdline", token, "", http.StatusOK},
		{http.MethodPut, apps, token, cfgDoc, http.StatusOK},
		{http.MethodDelete, apps, token, "", http.StatusOK},
	} {
		code, hdr, body := servetest.Call(t, c.method, c.url, c.token, c.body)
		if code != c.want {
			t.Errorf("%s %s with token %q: %d %s, want %d", c.method, c.url, c.token, code, body, c.want)
		}
		if code == http.StatusUnauthorized && (!strings.Contains(body, "Authorization: Bearer") || hdr.Get("WWW-Authenticate") == "") {
			t.Errorf("401 does not say what is needed: %q %v", body, hdr)
		}
	}
	// Without the token nothing was applied.
	code, _, body := servetest.Call(t, http.MethodGet, api+"/api/gantry/applications", "", "")
	var g admin.GantryInstance
	if code != 200 || json.Unmarshal([]byte(body), &g) != nil {
		t.Fatalf("GET: %d %s", code, body)
	}
}

func TestAdminListenerBeyondLoopbackNeedsAToken(t *testing.T) {
	for _, c := range []struct {
		addr, token string
		ok          bool
	}{
		{"127.0.0.1:8265", "", true},
		{"127.0.0.2:8265", "", true},
		{"[::1]:8265", "", true},
		{"localhost:8265", "", true},
		{"0.0.0.0:8265", "", false},
		{":8265", "", false},
		{"[::]:8265", "", false},
		{"10.1.2.3:8265", "", false},
		{"gateway.example:8265", "", false},
		{"0.0.0.0:8265", "t", true},
	} {
		err := admin.CheckBind(c.addr, c.token)
		if (err == nil) != c.ok {
			t.Errorf("CheckBind(%q, %q) = %v, want ok=%v", c.addr, c.token, err, c.ok)
		}
		if err != nil && (!strings.Contains(err.Error(), "--admin-token") || !strings.Contains(err.Error(), admin.AdminTokenEnv)) {
			t.Errorf("error does not say how to set a token: %v", err)
		}
	}
	// serve.NewGateway refuses before binding anything.
	_, err := serve.NewGateway(serve.Options{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DashboardAddr: "0.0.0.0:0"}, deploy.Options{})
	if err == nil || !strings.Contains(err.Error(), "admin token") {
		t.Fatalf("New with a public dashboard and no token: %v", err)
	}
}

func TestPutBodyLimit(t *testing.T) {
	_, api, _ := apiGateway(t, "")
	big := "# " + strings.Repeat("x", admin.MaxConfigBytes) + "\n" + testConfig(t.TempDir())
	code, _, body := servetest.Call(t, http.MethodPut, api+"/api/serve/applications/", "", big)
	if code != http.StatusRequestEntityTooLarge {
		t.Fatalf("PUT of %d bytes: %d %s, want 413", len(big), code, body)
	}
	if v := getJSON(t, api+"/api/serve/applications/"); len(obj(t, v, "applications")) != 0 {
		t.Fatalf("the oversized config was applied: %v", v["applications"])
	}
}

func TestRayVersionAndAPIType(t *testing.T) {
	_, api, _ := apiGateway(t, "")
	v := getJSON(t, api+"/api/ray/version")
	keysAre(t, "version", v, "version", "ray_version", "ray_commit", "session_name")
	if v["version"] != "4" /* Ray dashboard's CURRENT_VERSION */ || v["ray_version"] != admin.RayCompatVersion ||
		!strings.HasPrefix(v["session_name"].(string), "session_") || v["ray_commit"] == "" {
		t.Errorf("GET /api/ray/version = %v", v)
	}
	if code, _, body := servetest.Call(t, http.MethodPut, api+"/api/serve/applications/", "", testConfig(t.TempDir())); code != 200 {
		t.Fatalf("PUT: %d %s", code, body)
	}
	if a := obj(t, getJSON(t, api+"/api/serve/applications/?api_type=declarative"), "applications"); len(a) != 1 {
		t.Errorf("api_type=declarative lists %d applications, want 1", len(a))
	}
	if a := obj(t, getJSON(t, api+"/api/serve/applications/?api_type=imperative"), "applications"); len(a) != 0 {
		t.Errorf("api_type=imperative lists %d applications, want 0", len(a))
	}
	if code, _, _ := servetest.Call(t, http.MethodGet, api+"/api/serve/applications/?api_type=bogus", "", ""); code != 400 {
		t.Errorf("api_type=bogus: %d, want 400", code)
	}
	// Without the trailing slash too.
	if code, _, _ := servetest.Call(t, http.MethodGet, api+"/api/serve/applications", "", ""); code != 200 {
		t.Errorf("GET /api/serve/applications: %d, want 200", code)
	}
}

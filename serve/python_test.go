package serve_test

import (
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/servetest"
)

// End-to-end tests of import_path applications: a real gateway runs real
// Python replicas (gantry-serve's runner, from the Python in
// GANTRY_TEST_PYTHON; skipped with a note when it is unset) of the Ray
// Serve application in testdata/pyapp.

// pythonGateway copies testdata/pyapp to a fresh folder (the test may
// change its code), runs a gateway with the config text (PYTHON and
// WORKDIR stand for the Python and that folder) and returns it.
func pythonGateway(t *testing.T, text string) (srv *serve.Server, url, dir string) {
	t.Helper()
	py := testenv.Python(t)
	dir = t.TempDir()
	src, err := os.ReadFile("testdata/pyapp/twoapp.py")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "twoapp.py"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	srv = servetest.Start(t, serve.Options{Config: pythonConfig(t, text, py, dir)})
	return srv, "http://" + srv.HTTPAddr(), dir
}

func pythonConfig(t *testing.T, text, py, dir string) *config.Config {
	t.Helper()
	cfg, err := config.Parse([]byte(strings.NewReplacer("PYTHON", py, "WORKDIR", dir).Replace(text)))
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// appStatus waits until application name is in state (DEPLOY_FAILED ends
// the wait early with a failure, unless it is what is awaited).
func appStatus(t *testing.T, srv *serve.Server, name string, state deploy.AppState) deploy.AppStatus {
	t.Helper()
	var got deploy.AppStatus
	testenv.WaitFor(t, 90*time.Second, name+" "+string(state), func() bool {
		for _, a := range srv.Controller().Snapshot().Applications {
			if a.Name == name {
				got = a
				if a.Status == deploy.AppDeployFailed && state != deploy.AppDeployFailed {
					t.Fatalf("%s is DEPLOY_FAILED: %s", name, a.Message)
				}
			}
		}
		return got.Status == state
	})
	return got
}

const twoAppConfig = `
applications:
- name: two
  route_prefix: /
  import_path: twoapp:app
  python: PYTHON
  runtime_env: {working_dir: WORKDIR, env_vars: {PYAPP_VERSION: v1}}
  deployments:
  - name: Model
    max_ongoing_requests: 4
`

func getJSON(t *testing.T, url string, header map[string]string, v any) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	for k, val := range header {
		req.Header.Set(k, val)
	}
	r := testenv.Do(t, req)
	if r.Code != 200 {
		t.Fatalf("GET %s: %d %q", url, r.Code, r.Body)
	}
	if err := json.Unmarshal([]byte(r.Body), v); err != nil {
		t.Fatalf("GET %s: %v: %q", url, err, r.Body)
	}
}

// The two-deployment app runs from its import_path; the ingress's handle
// call to Model goes through the router (counted in Model's metrics), and
// user exceptions raised in Model are answers, not replica failures.
func TestPythonAppFromImportPath(t *testing.T) {
	srv, url, _ := pythonGateway(t, twoAppConfig)
	app := appStatus(t, srv, "two", deploy.AppRunning)
	if len(app.Deployments) != 2 {
		t.Fatalf("deployments %+v, want Ingress and Model", app.Deployments)
	}
	for _, d := range app.Deployments {
		if d.Deployment == "Model" && d.Spec.MaxOngoingRequests != 4 {
			t.Errorf("Model's max_ongoing_requests %d; the config's 4 should win over the code's 8", d.Spec.MaxOngoingRequests)
		}
	}
	var out struct {
		Echo    string
		Calls   int
		Replica string
		Error   string
	}
	getJSON(t, url+"/?x=hello", nil, &out)
	if out.Echo != "hello" || out.Calls != 1 {
		t.Fatalf("answer %+v", out)
	}
	// Ten user exceptions in a row: a breaker counting them would open
	// after five.
	for range 10 {
		out.Error = ""
		getJSON(t, url+"/?x=boom", nil, &out)
		if out.Error != "boom requested" {
			t.Fatalf("a user exception came back as %+v", out)
		}
	}
	getJSON(t, url+"/?x=after", nil, &out)
	if out.Echo != "after" || out.Calls != 12 {
		t.Errorf("after the exceptions: %+v, want the same replica's 12th call", out)
	}
	_, metrics := testenv.Get(t, "http://"+srv.DashboardAddr()+"/metrics")
	want := `gantry_requests_total{application="two",code="200",deployment="Model"} 12`
	if !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s (handle calls and user exceptions are 200s of Model)", want)
	}

	// Ray's REST view shows the config as applied, with its import_path.
	_, body := testenv.Get(t, "http://"+srv.DashboardAddr()+"/api/serve/applications/")
	var ray struct {
		Applications map[string]struct {
			DeployedAppConfig map[string]any `json:"deployed_app_config"`
		}
	}
	if err := json.Unmarshal([]byte(body), &ray); err != nil {
		t.Fatal(err)
	}
	c := ray.Applications["two"].DeployedAppConfig
	if c["import_path"] != "twoapp:app" || c["runtime_env"] == nil || c["python"] != nil {
		t.Errorf("deployed_app_config %v: want import_path and runtime_env, and none of Gantry's fields", c)
	}
}

func TestPythonAppImportErrorIsDeployFailed(t *testing.T) {
	srv, _, _ := pythonGateway(t, strings.Replace(twoAppConfig, "twoapp:app", "twoapp:nope", 1))
	app := appStatus(t, srv, "two", deploy.AppDeployFailed)
	if !strings.Contains(app.Message, "has no attribute 'nope'") {
		t.Errorf("message %q does not say what is wrong", app.Message)
	}
}

// Three replicas multiplexing two models each, six model ids: requests
// for a model go to the replica that has it loaded, asserted from the
// replicas' own load counts and the loaded ids the gateway reports.
func TestPythonMultiplexing(t *testing.T) {
	srv, url, _ := pythonGateway(t, `
applications:
- name: models
  route_prefix: /
  import_path: twoapp:models
  python: PYTHON
  runtime_env: {working_dir: WORKDIR}
`)
	appStatus(t, srv, "models", deploy.AppRunning)
	type answer struct {
		Model   string
		Loads   map[string]int
		Replica string
	}
	ask := func(id string) answer {
		var a answer
		getJSON(t, url+"/", map[string]string{"serve_multiplexed_model_id": id}, &a)
		if a.Model != id {
			t.Fatalf("asked for %s, got %+v", id, a)
		}
		return a
	}
	for _, id := range []string{"m1", "m2", "m3", "m4", "m5", "m6"} {
		first := ask(id)
		for range 5 {
			a := ask(id)
			if a.Replica != first.Replica || a.Loads[id] != first.Loads[id] {
				t.Errorf("%s: first served by %s (loads %d), then by %s (loads %d)",
					id, first.Replica, first.Loads[id], a.Replica, a.Loads[id])
			}
		}
	}
	// The gateway reports what each replica has loaded: m1 was pushed out
	// everywhere, so asking for it loads it once and it is then reported
	// by exactly one replica.
	ask("m1")
	ask("m1")
	var view struct {
		Applications map[string]struct {
			Deployments map[string]struct {
				Replicas []struct {
					MultiplexedModelIDs []string `json:"multiplexed_model_ids"`
				}
			}
		}
	}
	getJSON(t, "http://"+srv.DashboardAddr()+"/api/gantry/applications", nil, &view)
	holders := 0
	for _, r := range view.Applications["models"].Deployments["Models"].Replicas {
		for _, id := range r.MultiplexedModelIDs {
			if id == "m1" {
				holders++
			}
		}
	}
	if holders != 1 {
		t.Errorf("%d replicas report m1 loaded, want 1: %+v", holders, view)
	}
}

// A code change of the child deployment rolls out under load, through the
// ingress's handle calls, without a failed request.
func TestPythonChildRollsOutUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("a rollout under load")
	}
	py := testenv.Python(t)
	srv, url, dir := pythonGateway(t, twoAppConfig)
	appStatus(t, srv, "two", deploy.AppRunning)
	deployment := func(name string) deploy.DeploymentStatus {
		for _, d := range srv.Controller().Status() {
			if d.Deployment == name {
				return d
			}
		}
		return deploy.DeploymentStatus{}
	}
	model := func() deploy.DeploymentStatus { return deployment("Model") }
	before, ingress := model(), deployment("Ingress").Replicas[0].ID
	stop := load(url+"/?x=load", 8)
	servetest.Apply(t, srv, pythonConfig(t, twoAppConfig+"    ray_actor_options: {num_cpus: 2}\n", py, dir))
	testenv.WaitFor(t, 90*time.Second, "the new Model replica alone, RUNNING", func() bool {
		d := model()
		return d.Spec.CodeVersion != before.Spec.CodeVersion && len(d.Replicas) == 1 &&
			d.Replicas[0].Version == d.Spec.CodeVersion && d.Replicas[0].State == "RUNNING"
	})
	ok, failures := stop()
	if len(failures) > 0 {
		t.Fatalf("%d of %d requests failed during the rollout; first: %s", len(failures), ok+int64(len(failures)), failures[0])
	}
	if ok < 20 {
		t.Fatalf("only %d requests during the rollout: the test did not exercise it", ok)
	}
	if d := deployment("Ingress"); len(d.Replicas) != 1 || d.Replicas[0].ID != ingress {
		t.Errorf("the ingress was replaced too: %+v", d.Replicas)
	}
	t.Logf("%d requests, 0 failed, during the rollout of Model", ok)
}

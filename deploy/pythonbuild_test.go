package deploy

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/testenv"
)

// PythonBuilder runs the real gantry_serve.build of the Python in
// GANTRY_TEST_PYTHON (the test skips without one).
func TestPythonBuilderRunsTheSDKsBuilder(t *testing.T) {
	py := testenv.Python(t)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "app.py"), `
import os
from ray import serve

print("importing app.py writes to stdout too")

@serve.deployment(num_replicas=2, ray_actor_options={"resources": {"TPU": 4}})
class Model:
    def __call__(self, x):
        return x

@serve.deployment
class Front:
    def __init__(self, model):
        self.model = model

app = Front.bind(Model.bind())
assert os.environ["GANTRY_APPLICATION"] == "sd" and os.environ["MODE"] == "test"
`)
	b := PythonBuilder{}
	in := config.PythonApp{Application: "sd", ImportPath: "app:app", Python: py, WorkingDir: dir, Env: map[string]string{"MODE": "test"}}
	g, err := b.Build(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	if g.Ingress != "Front" || len(g.Deployments) != 2 || g.check() != nil {
		t.Fatalf("graph %+v", g)
	}
	byName := map[string]GraphDeployment{}
	for _, d := range g.Deployments {
		byName[d.Name] = d
	}
	d, err := config.MergeDeployment("Model", mustJSON(t, byName["Model"].Options), nil)
	if err != nil || d.NumReplicas.Count != 2 || d.RayActorOptions.Resources["TPU"] != 4 {
		t.Errorf("Model's options from code: %+v, %v", d, err)
	}

	in.ImportPath = "app:missing"
	_, err = b.Build(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("a missing attribute: %v", err)
	}

	// The time limit ends a module that hangs when imported.
	writeFile(t, filepath.Join(dir, "slow.py"), "import time\ntime.sleep(60)\n")
	in.ImportPath = "slow:app"
	start := time.Now()
	_, err = PythonBuilder{Timeout: time.Second}.Build(context.Background(), in)
	if err == nil || !strings.Contains(err.Error(), "took longer than 1s") {
		t.Errorf("a hanging import: %v", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("the build was not stopped at its time limit")
	}
}

func mustJSON(t *testing.T, v map[string]any) []byte {
	t.Helper()
	b, err := jsonOf(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A graph printed after whatever the module printed is still found.
func TestParseGraphSkipsWhatTheModulePrinted(t *testing.T) {
	g, err := parseGraph("loading...\n{\"progress\": 1}\n" + `{"ingress": "A", "deployments": [{"name": "A"}]}` + "\n")
	if err != nil || g.Ingress != "A" || len(g.Deployments) != 1 {
		t.Errorf("%+v, %v", g, err)
	}
	if _, err := parseGraph("no graph here\n"); err == nil || !strings.Contains(err.Error(), "printed no graph") {
		t.Errorf("output without a graph: %v", err)
	}
}

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gantry.dev/gantry/internal/testenv"
)

// gantry deploy of a Python application whose config names its folder and
// interpreter relatively: the paths are sent resolved, the gateway (started
// elsewhere) imports the code from the config's folder and serves it.
func TestDeployPythonAppWithRelativePaths(t *testing.T) {
	py := testenv.Python(t)
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "app"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The test's venv, as a folder beside the config: python: ./venv.
	venv := filepath.Dir(filepath.Dir(py))
	if _, err := os.Stat(filepath.Join(venv, "pyvenv.cfg")); err != nil {
		t.Skipf("%s=%s is not a venv's bin/python", testenv.EnvTestPython, py)
	}
	if err := os.Symlink(venv, filepath.Join(dir, "venv")); err != nil {
		t.Fatal(err)
	}
	src := `
from ray import serve

@serve.deployment
class Hello:
    def __call__(self, request):
        return "hello from " + serve.get_replica_context().deployment

app = Hello.bind()
`
	if err := os.WriteFile(filepath.Join(dir, "app", "hello.py"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(config, []byte(`
applications:
- name: hello
  route_prefix: /
  import_path: hello:app
  python: ./venv
  runtime_env: {working_dir: app}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	g := startEmptyGateway(t)
	r := gantryRun(t, t.TempDir(), nil, "deploy", config, "--wait", "--timeout", "90s", "--address", g.dashboardURL)
	if r.code != 0 || !strings.Contains(r.stdout, "Application hello is RUNNING.") {
		t.Fatalf("gantry deploy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if code, body := testenv.Get(t, g.url+"/"); code != 200 || body != "hello from Hello" {
		t.Errorf("GET /: %d %q", code, body)
	}
}

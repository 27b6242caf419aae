package deploy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"gantry.dev/gantry/deploy/config"
)

// fakeGraphs is a GraphBuilder that answers from a table instead of
// running Python: these unit tests are about what the controller makes of
// a graph (merging, placement, status, rollouts), and the real builder
// needs a Python with gantry-serve; it is tested end to end in
// pythonbuild_test.go and in serve.
type fakeGraphs struct {
	mu     sync.Mutex
	graphs map[string]Graph // by import path
	errs   map[string]error
	gate   chan struct{} // when set, a build waits for it
	seen   []config.PythonApp
}

func (f *fakeGraphs) Build(ctx context.Context, app config.PythonApp) (Graph, error) {
	f.mu.Lock()
	gate := f.gate
	f.seen = append(f.seen, app)
	f.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			return Graph{}, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.errs[app.ImportPath]; err != nil {
		return Graph{}, err
	}
	return f.graphs[app.ImportPath], nil
}

func (f *fakeGraphs) set(importPath string, g Graph, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.graphs[importPath], f.errs[importPath] = g, err
}

// sdGraph is the GKE tutorial's graph: a FastAPI ingress with a handle to
// a Stable Diffusion deployment on 4 TPU chips.
var sdGraph = Graph{Ingress: "APIIngress", Deployments: []GraphDeployment{
	{Name: "StableDiffusion", Options: map[string]any{
		"num_replicas": 1, "max_ongoing_requests": 4, "ray_actor_options": map[string]any{"resources": map[string]any{"TPU": 4}},
	}},
	{Name: "APIIngress", Options: map[string]any{"num_replicas": 1}},
}}

// pythonSetup makes a venv-like folder (bin/python, an executable; the
// fake builder never runs it) and a working_dir with a module.
func pythonSetup(t *testing.T) (base string) {
	t.Helper()
	base = t.TempDir()
	if err := os.MkdirAll(filepath.Join(base, "venv", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(base, "venv", "bin", "python"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(base, "app", "sd.py"), "deployment = None\n")
	return base
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

const sdConfig = `
worker_groups:
  - {name: v4, accelerator: tpu-v4-podslice, topology: 2x2x1, chips_per_host: 4, replicas: 3}
applications:
  - name: sd
    route_prefix: /
    import_path: sd:deployment
    python: ./venv
    runtime_env: {working_dir: app, env_vars: {MODEL: tiny}}
    deployments:
      - name: StableDiffusion
        num_replicas: 2
        user_config: {steps: 4}
`

func newPythonHarness(t *testing.T, graphs *fakeGraphs) *harness {
	return newHarness(t, func(o *Options) {
		o.Graphs = graphs
		o.ReplicaEnv = map[string]string{"GANTRY_HANDLE_ADDRESS": "http://127.0.0.1:1", "GANTRY_HANDLE_TOKEN": "secret"}
	})
}

func loadPythonConfig(t *testing.T, base, text string) *config.Config {
	t.Helper()
	cfg := parseConfig(t, text)
	cfg.BaseDir = base
	return cfg
}

func TestPythonAppDeploysItsGraphWithConfigOverrides(t *testing.T) {
	base := pythonSetup(t)
	graphs := &fakeGraphs{graphs: map[string]Graph{"sd:deployment": sdGraph}, errs: map[string]error{}}
	h := newPythonHarness(t, graphs)
	h.applyConfig(loadPythonConfig(t, base, sdConfig))
	snap := h.until("both deployments HEALTHY", func(s *Snapshot) bool {
		return settled(s, "sd", "StableDiffusion", 2) && settled(s, "sd", "APIIngress", 1)
	})
	app := snap.Applications[0]
	if app.Status != AppRunning || app.Config.ImportPath != "sd:deployment" || len(app.Config.Deployments) != 1 {
		t.Errorf("application %s %q, config as applied %+v; want RUNNING with the config as written", app.Status, app.Message, app.Config)
	}
	sd, _ := dep(snap, "sd", "StableDiffusion")
	if sd.Spec.MaxOngoingRequests != 4 || string(sd.Spec.UserConfig) != `{"steps":4}` || sd.Target != 2 {
		t.Errorf("StableDiffusion spec: max_ongoing_requests %d (code: 4), user_config %s (config), target %d (config: 2)",
			sd.Spec.MaxOngoingRequests, sd.Spec.UserConfig, sd.Target)
	}
	python := filepath.Join(base, "venv", "bin", "python")
	for _, in := range h.b.started() {
		s := in.spec
		want := []string{python, "-m", "gantry_serve.replica", "sd:deployment", s.Deployment}
		if !slices.Equal(s.Command, want) {
			t.Errorf("%s command %q, want %q", s.ID, s.Command, want)
		}
		if s.WorkingDir != filepath.Join(base, "app") || !strings.HasPrefix(s.Env["PYTHONPATH"], filepath.Join(base, "app")) ||
			s.Env["MODEL"] != "tiny" || s.Env[EnvWorkingDirHash] == "" || s.Env["GANTRY_HANDLE_TOKEN"] != "secret" {
			t.Errorf("%s runs in %s with env %v", s.ID, s.WorkingDir, s.Env)
		}
		if s.Deployment == "StableDiffusion" && (s.Group == nil || s.Group.Name != "v4") {
			t.Errorf("%s is not placed on worker group v4: %+v", s.ID, s.Group)
		}
		if s.Deployment == "APIIngress" && s.Group != nil {
			t.Errorf("the ingress took a TPU slice: %+v", s.Group)
		}
	}
	if route, ok := h.router.Table().Match("/imagine"); !ok || route.Deployment.Name() != "APIIngress" {
		t.Errorf("/imagine routes to %+v (%v), want the code's ingress APIIngress", route, ok)
	}
	if len(graphs.seen) != 1 || graphs.seen[0].Python != python || graphs.seen[0].WorkingDir != filepath.Join(base, "app") {
		t.Errorf("builds: %+v", graphs.seen)
	}
}

func TestPythonAppBuildStatus(t *testing.T) {
	base := pythonSetup(t)
	graphs := &fakeGraphs{graphs: map[string]Graph{}, errs: map[string]error{
		"sd:deployment": errors.New("ModuleNotFoundError: No module named 'diffusers' (importing sd)"),
	}, gate: make(chan struct{})}
	h := newPythonHarness(t, graphs)
	h.applyConfig(loadPythonConfig(t, base, sdConfig))
	h.until("DEPLOYING while the code is imported", func(s *Snapshot) bool {
		return len(s.Applications) == 1 && s.Applications[0].Status == AppDeploying &&
			strings.Contains(s.Applications[0].Message, "importing sd:deployment")
	})
	close(graphs.gate)
	snap := h.until("DEPLOY_FAILED with the builder's message", func(s *Snapshot) bool {
		return s.Applications[0].Status == AppDeployFailed
	})
	if msg := snap.Applications[0].Message; !strings.Contains(msg, "No module named 'diffusers'") {
		t.Errorf("message %q does not say why", msg)
	}
	if len(h.b.started()) != 0 {
		t.Errorf("%d replicas started for a graph that failed to build", len(h.b.started()))
	}

	// Fixed and applied again: it deploys.
	graphs.set("sd:deployment", sdGraph, nil)
	h.applyConfig(loadPythonConfig(t, base, sdConfig))
	h.until("RUNNING after the fix", func(s *Snapshot) bool {
		return s.Applications[0].Status == AppRunning && s.Applications[0].Message == ""
	})

	// A failing rebuild keeps the running deployments serving.
	graphs.set("sd:deployment", Graph{}, errors.New("SyntaxError: invalid syntax (sd.py, line 3)"))
	h.applyConfig(loadPythonConfig(t, base, sdConfig))
	snap = h.until("DEPLOY_FAILED after a broken rebuild", func(s *Snapshot) bool {
		return s.Applications[0].Status == AppDeployFailed
	})
	if !settled(snap, "sd", "APIIngress", 1) || len(h.pool("sd")) != 1 {
		t.Errorf("the last good build stopped serving: %s", dump(snap))
	}
}

func TestPythonAppOverrideOfUnknownDeployment(t *testing.T) {
	base := pythonSetup(t)
	graphs := &fakeGraphs{graphs: map[string]Graph{"sd:deployment": sdGraph}, errs: map[string]error{}}
	h := newPythonHarness(t, graphs)
	h.applyConfig(loadPythonConfig(t, base, strings.Replace(sdConfig, "name: StableDiffusion", "name: StableDifusion", 1)))
	snap := h.until("DEPLOY_FAILED", func(s *Snapshot) bool {
		return len(s.Applications) == 1 && s.Applications[0].Status == AppDeployFailed
	})
	want := `deployments[0].name: "StableDifusion" is not a deployment of sd:deployment; its deployments are: StableDiffusion, APIIngress`
	if msg := snap.Applications[0].Message; !strings.Contains(msg, want) {
		t.Errorf("message %q, want %q", msg, want)
	}
}

// New code in working_dir rolls out on the next apply of the same config.
func TestPythonAppCodeChangeRollsOut(t *testing.T) {
	base := pythonSetup(t)
	graphs := &fakeGraphs{graphs: map[string]Graph{"sd:deployment": sdGraph}, errs: map[string]error{}}
	h := newPythonHarness(t, graphs)
	h.applyConfig(loadPythonConfig(t, base, sdConfig))
	snap := h.until("HEALTHY", func(s *Snapshot) bool { return settled(s, "sd", "APIIngress", 1) })
	before, _ := dep(snap, "sd", "APIIngress")

	// Python's caches do not count as a change.
	writeFile(t, filepath.Join(base, "app", "__pycache__", "sd.cpython-312.pyc"), "cache")
	h.applyConfig(loadPythonConfig(t, base, sdConfig))
	h.until("the rebuild taken", func(*Snapshot) bool { return len(h.eventsOf(EventGraphBuilt)) == 2 })
	if d, _ := dep(h.c.Snapshot(), "sd", "APIIngress"); d.Spec.CodeVersion != before.Spec.CodeVersion {
		t.Fatalf("a __pycache__ file changed the code version")
	}

	writeFile(t, filepath.Join(base, "app", "sd.py"), "deployment = 'v2'\n")
	h.applyConfig(loadPythonConfig(t, base, sdConfig))
	snap = h.until("the new version HEALTHY", func(s *Snapshot) bool {
		d, _ := dep(s, "sd", "APIIngress")
		return d.Spec.CodeVersion != before.Spec.CodeVersion && settled(s, "sd", "APIIngress", 1) &&
			d.Replicas[0].Version == d.Spec.CodeVersion
	})
	after, _ := dep(snap, "sd", "APIIngress")
	if after.Replicas[0].ID == before.Replicas[0].ID {
		t.Errorf("replica %s was not replaced", after.Replicas[0].ID)
	}
}

func TestPythonAppOnABackendWithoutPython(t *testing.T) {
	base := pythonSetup(t)
	h := newHarness(t, func(o *Options) { o.Graphs = NoPython{Reason: NoPythonOnKubernetes} })
	h.applyConfig(loadPythonConfig(t, base, sdConfig))
	snap := h.until("DEPLOY_FAILED", func(s *Snapshot) bool {
		return len(s.Applications) == 1 && s.Applications[0].Status == AppDeployFailed
	})
	if msg := snap.Applications[0].Message; !strings.Contains(msg, "import_path applications run only on the local backend") {
		t.Errorf("message %q", msg)
	}
}

func TestPythonAppMissingInterpreter(t *testing.T) {
	base := pythonSetup(t)
	graphs := &fakeGraphs{graphs: map[string]Graph{"sd:deployment": sdGraph}, errs: map[string]error{}}
	h := newPythonHarness(t, graphs)
	h.applyConfig(loadPythonConfig(t, base, strings.Replace(sdConfig, "python: ./venv", "python: ./no-such-venv", 1)))
	snap := h.until("DEPLOY_FAILED", func(s *Snapshot) bool {
		return len(s.Applications) == 1 && s.Applications[0].Status == AppDeployFailed
	})
	if msg := snap.Applications[0].Message; !strings.Contains(msg, "no-such-venv does not exist") {
		t.Errorf("message %q", msg)
	}
}

package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// tutorialRayService is the GKE tutorial's RayService as written (a Python
// import path), kept with the config package's testdata.
const tutorialRayService = "../../deploy/config/testdata/rayservice.bad.yaml"

// rayServiceProject copies testdata/rayservice.yaml, whose replica command
// is ./bin/server, into a new folder where bin/server is the test replica.
func rayServiceProject(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testreplicaPath(), filepath.Join(dir, "bin", "server")); err != nil {
		t.Fatal(err)
	}
	manifest, err := os.ReadFile("testdata/rayservice.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "ray-service.yaml")
	if err := os.WriteFile(path, manifest, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// A RayService manifest given as a config is named as one, with what to do
// instead, by gantry deploy and gantry serve alike.
func TestRayServiceManifestAsConfigSaysWhatItIs(t *testing.T) {
	manifest, err := filepath.Abs(tutorialRayService)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"deploy", manifest, "--address", "http://127.0.0.1:1"},
		{"serve", manifest, "--state-dir", t.TempDir()},
	} {
		r := gantryRun(t, t.TempDir(), nil, args...)
		if r.code != 1 || !strings.Contains(r.stderr, "this is a Kubernetes RayService resource (apiVersion ray.io/v1), not a Gantry config") ||
			!strings.Contains(r.stderr, "gantry deploy --from-rayservice FILE") || !strings.Contains(r.stderr, "GantryService") ||
			strings.Contains(r.stderr, "unknown field") {
			t.Errorf("gantry %s of a RayService: exit %d, want 1 naming the resource and --from-rayservice:\n%s", args[0], r.code, r.stderr)
		}
	}
}

func TestDeployFromRayService(t *testing.T) {
	g := startEmptyGateway(t)
	r := gantryRun(t, t.TempDir(), nil, "deploy", "--from-rayservice", rayServiceProject(t), "--wait", "--timeout", "60s", "--address", g.dashboardURL)
	if r.code != 0 || !strings.Contains(r.stdout, "Application stable_diffusion is RUNNING.") {
		t.Fatalf("gantry deploy --from-rayservice: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if s := gantryStatus(t, g).Applications["stable_diffusion"].Deployments["painter"]; s.ReplicaStates["RUNNING"] != 2 {
		t.Errorf("painter replicas: %v, want 2 RUNNING", s.ReplicaStates)
	}
	if code, _, err := testenv.TryGet(g.url + "/id"); err != nil || code != 200 {
		t.Errorf("GET /id: %d %v", code, err)
	}

	// The tutorial's own RayService fetches its code from a URL and installs
	// packages: each problem is named inside spec.serveConfigV2, and nothing
	// changes.
	r = gantryRun(t, t.TempDir(), nil, "deploy", "--from-rayservice", filepath.Join(mustGetwd(t), tutorialRayService), "--address", g.dashboardURL)
	if r.code != 1 || !strings.Contains(r.stderr, "spec.serveConfigV2.applications[0].runtime_env.working_dir: remote URIs are not supported") ||
		!strings.Contains(r.stderr, "spec.serveConfigV2.applications[0].runtime_env.pip: not supported") {
		t.Errorf("deploy --from-rayservice of the tutorial: exit %d\n%s", r.code, r.stderr)
	}
	if s := gantryStatus(t, g); len(s.Applications) != 1 {
		t.Errorf("a refused RayService changed the applications: %v", s.Applications)
	}

	for _, args := range [][]string{
		{"deploy", "--from-rayservice", "x.yaml", "y.yaml"},
		{"deploy"},
		{"serve", "--from-rayservice", "x.yaml", "y.yaml"},
	} {
		if r := gantryRun(t, t.TempDir(), nil, args...); r.code != 2 {
			t.Errorf("gantry %q: exit %d, want 2 (usage)\n%s", args, r.code, r.stderr)
		}
	}
}

func TestServeFromRayService(t *testing.T) {
	ports := testenv.FreePorts(t, 3)
	p := startGantry(t, "serve", "--from-rayservice", rayServiceProject(t),
		"--http-port", strconv.Itoa(ports[0]), "--dashboard-port", strconv.Itoa(ports[1]), "--grpc-port", strconv.Itoa(ports[2]), "--state-dir", t.TempDir())
	g := &gateway{Proc: p, url: "http://127.0.0.1:" + strconv.Itoa(ports[0]), dashboardURL: "http://127.0.0.1:" + strconv.Itoa(ports[1])}
	g.until(t, 30*time.Second, "the RayService's application to answer", func() bool {
		code, _, err := testenv.TryGet(g.url + "/id")
		return err == nil && code == 200
	})
}

func mustGetwd(t *testing.T) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	return wd
}

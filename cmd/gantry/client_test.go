package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/testenv"
)

// Tests of gantry deploy, status, config and shutdown against a real
// `gantry serve` with real replica processes.

// startEmptyGateway runs `gantry serve` with no config on free ports.
func startEmptyGateway(t *testing.T, args ...string) *gateway {
	t.Helper()
	ports := testenv.FreePorts(t, 3)
	stateDir := t.TempDir()
	p := startGantry(t, append([]string{"serve",
		"--http-port", strconv.Itoa(ports[0]), "--grpc-port", strconv.Itoa(ports[2]),
		"--dashboard-port", strconv.Itoa(ports[1]),
		"--state-dir", stateDir}, args...)...)
	g := &gateway{
		Proc:         p,
		url:          "http://127.0.0.1:" + strconv.Itoa(ports[0]),
		dashboardURL: "http://127.0.0.1:" + strconv.Itoa(ports[1]),
		stateDir:     stateDir,
	}
	g.until(t, 10*time.Second, "the dashboard to answer", func() bool {
		code, _, err := testenv.TryGet(g.dashboardURL + "/-/healthz")
		return err == nil && code == 200
	})
	return g
}

// result is how a gantry client command ended.
type result struct {
	code           int
	stdout, stderr string
}

// gantryRun runs the gantry binary to completion in dir with env added.
func gantryRun(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gantryPath(), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := result{stdout: stdout.String(), stderr: stderr.String()}
	if err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatalf("gantry %s: %v", strings.Join(args, " "), err)
		}
	}
	r.code = cmd.ProcessState.ExitCode()
	return r
}

// statusOut is what gantry status prints.
type statusOut struct {
	Proxies      map[string]string `json:"proxies"`
	Applications map[string]struct {
		Status            string  `json:"status"`
		Message           string  `json:"message"`
		LastDeployedTimeS float64 `json:"last_deployed_time_s"`
		Deployments       map[string]struct {
			Status        string         `json:"status"`
			StatusTrigger string         `json:"status_trigger"`
			ReplicaStates map[string]int `json:"replica_states"`
			Message       string         `json:"message"`
		} `json:"deployments"`
	} `json:"applications"`
	TargetCapacity *float64 `json:"target_capacity"`
}

func gantryStatus(t *testing.T, g *gateway) statusOut {
	t.Helper()
	r := gantryRun(t, t.TempDir(), nil, "status", "--address", g.dashboardURL)
	if r.code != 0 {
		t.Fatalf("gantry status: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var s statusOut
	if err := yaml.UnmarshalStrict([]byte(r.stdout), &s); err != nil {
		t.Fatalf("gantry status printed no status YAML: %v\n%s", err, r.stdout)
	}
	return s
}

// TestDeployWaitStatusConfigShutdown deploys a config whose replica command
// and working_dir are relative to the config's folder, from another folder,
// and follows it with status, config and shutdown.
func TestDeployWaitStatusConfigShutdown(t *testing.T) {
	g := startEmptyGateway(t)
	pidDir := newPIDDir(t)
	project := t.TempDir()
	if err := os.MkdirAll(filepath.Join(project, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testreplicaPath(), filepath.Join(project, "bin", "server")); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(project, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(project, "serve.yaml")
	if err := os.WriteFile(cfgFile, []byte(`
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    num_replicas: 2
    graceful_shutdown_timeout_s: 5
    replica:
      command: [./bin/server]
      env: {TESTREPLICA_PID_DIR: `+strconv.Quote(pidDir)+`}
- name: other
  route_prefix: /other
  deployments:
  - name: o
    replica:
      command: [bin/server]
      working_dir: data
      env: {TESTREPLICA_PID_DIR: `+strconv.Quote(pidDir)+`}
`), 0o644); err != nil {
		t.Fatal(err)
	}

	// Deployed from the project's parent folder, with a relative path.
	elsewhere := t.TempDir()
	start := time.Now()
	r := gantryRun(t, filepath.Dir(project), nil, "deploy", filepath.Join(filepath.Base(project), "serve.yaml"),
		"--wait", "--address", g.dashboardURL)
	t.Logf("deploy --wait took %v:\n%s", time.Since(start), r.stdout)
	if r.code != 0 {
		t.Fatalf("gantry deploy --wait: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "All 2 applications are RUNNING.") || !strings.Contains(r.stdout, " app: ") {
		t.Errorf("deploy --wait output shows no progress to RUNNING:\n%s", r.stdout)
	}
	if code, _, err := testenv.TryGet(g.url + "/id"); err != nil || code != 200 {
		t.Fatalf("GET /id after deploy --wait: %d %v", code, err)
	}

	s := gantryStatus(t, g)
	if len(s.Proxies) != 1 || len(s.Applications) != 2 {
		t.Fatalf("status: %+v", s)
	}
	for _, p := range s.Proxies {
		if p != "HEALTHY" {
			t.Errorf("proxy %s", p)
		}
	}
	app := s.Applications["app"]
	d := app.Deployments["d"]
	if app.Status != "RUNNING" || app.LastDeployedTimeS < float64(start.Unix()) || d.Status != "HEALTHY" ||
		d.StatusTrigger != "CONFIG_UPDATE_COMPLETED" || !reflect.DeepEqual(d.ReplicaStates, map[string]int{"RUNNING": 2}) {
		t.Errorf("status of app: %+v", app)
	}
	r = gantryRun(t, elsewhere, nil, "status", "-n", "other", "--address", g.dashboardURL)
	if r.code != 0 || !strings.Contains(r.stdout, "status: RUNNING") || strings.Contains(r.stdout, "applications:") {
		t.Errorf("gantry status -n other: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r = gantryRun(t, elsewhere, nil, "status", "-n", "nope", "--address", g.dashboardURL); r.code != 1 || !strings.Contains(r.stderr, `"nope" does not exist`) {
		t.Errorf("gantry status -n nope: exit %d\n%s", r.code, r.stderr)
	}

	// The relative paths were resolved against the config's folder: the
	// command ran, and in the right working directory.
	r = gantryRun(t, elsewhere, nil, "config", "-n", "other", "--address", g.dashboardURL)
	var other config.Application
	if err := yaml.UnmarshalStrict([]byte(r.stdout), &other); r.code != 0 || err != nil {
		t.Fatalf("gantry config -n other: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	rep := other.Deployments[0].Replica
	if rep.Command[0] != filepath.Join(project, "bin", "server") || rep.WorkingDir != filepath.Join(project, "data") {
		t.Errorf("applied replica block %+v, want command and working_dir under %s", rep, project)
	}
	r = gantryRun(t, elsewhere, nil, "config", "--address", g.dashboardURL)
	var whole config.Config
	if err := yaml.UnmarshalStrict([]byte(r.stdout), &whole); r.code != 0 || err != nil || len(whole.Applications) != 2 {
		t.Fatalf("gantry config: exit %d %v\n%s%s", r.code, err, r.stdout, r.stderr)
	}
	if wd := whole.Applications[0].Deployments[0].Replica.WorkingDir; wd != project {
		t.Errorf("working_dir left out became %q, want the config's folder %s", wd, project)
	}
	pids := replicaPIDs(t, pidDir)
	if len(pids) != 3 {
		t.Fatalf("%d replica pids, want 3", len(pids))
	}
	cwds := map[string]int{}
	for _, pid := range pids {
		cwd, err := os.Readlink("/proc/" + strconv.Itoa(pid) + "/cwd")
		if err != nil {
			t.Fatal(err)
		}
		cwds[cwd]++
	}
	if want := map[string]int{project: 2, filepath.Join(project, "data"): 1}; !reflect.DeepEqual(cwds, want) {
		t.Errorf("replica working directories %v, want %v", cwds, want)
	}

	// A config the gateway refuses is reported, and nothing changes.
	bad := filepath.Join(project, "bad.yaml")
	os.WriteFile(bad, []byte("applications:\n- name: app\n  deployments:\n  - name: d\n    max_ongoing_requests: -4\n    colour: blue\n"), 0o644)
	r = gantryRun(t, elsewhere, nil, "deploy", bad, "--address", g.dashboardURL)
	for _, want := range []string{"applications[0].deployments[0].max_ongoing_requests", "applications[0].deployments[0].colour"} {
		if r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("deploy of an invalid config: exit %d, want 1 and %s named:\n%s", r.code, want, r.stderr)
		}
	}

	r = gantryRun(t, elsewhere, nil, "shutdown", "-y", "--address", g.dashboardURL)
	if r.code != 0 {
		t.Fatalf("gantry shutdown -y: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	g.until(t, 30*time.Second, "no applications in gantry status", func() bool {
		return len(gantryStatus(t, g).Applications) == 0
	})
	if !testenv.Eventually(10*time.Second, func() bool { return len(alive(pids)) == 0 }) {
		t.Fatalf("replicas %v still running after gantry shutdown", alive(pids))
	}
	if r = gantryRun(t, elsewhere, nil, "config", "--address", g.dashboardURL); r.code != 0 || !strings.Contains(r.stdout, "applications: []") {
		t.Errorf("gantry config after shutdown: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}

// TestDeployWaitReportsDeployFailed checks that --wait ends with exit 1
// and the failing replicas' log lines when an application cannot start.
func TestDeployWaitReportsDeployFailed(t *testing.T) {
	g := startEmptyGateway(t)
	cfgFile := writeConfig(t, `
applications:
- name: broken
  deployments:
  - name: b
    replica:
      command: [sh, -c, "echo the model file is missing; exit 3"]
`)
	r := gantryRun(t, t.TempDir(), nil, "deploy", cfgFile, "--wait", "--timeout", "60s", "--address", g.dashboardURL)
	if r.code != 1 || !strings.Contains(r.stderr, "broken is DEPLOY_FAILED") || !strings.Contains(r.stderr, "the model file is missing") {
		t.Fatalf("deploy --wait of a failing app: exit %d, want 1 with DEPLOY_FAILED and the log line\n%s%s", r.code, r.stdout, r.stderr)
	}
	if !strings.Contains(r.stdout, "broken: DEPLOYING") {
		t.Errorf("no progress line before the failure:\n%s", r.stdout)
	}
}

func TestClientWithoutGateway(t *testing.T) {
	addr := "http://127.0.0.1:" + strconv.Itoa(testenv.FreePorts(t, 1)[0])
	for _, args := range [][]string{
		{"status", "--address", addr},
		{"config", "--address", addr},
		{"shutdown", "-y", "--address", addr},
	} {
		r := gantryRun(t, t.TempDir(), nil, args...)
		if want := "no Gantry at " + addr + ": is `gantry serve` running?"; r.code != 1 || !strings.Contains(r.stderr, want) {
			t.Errorf("gantry %s: exit %d %q, want 1 and %q", args[0], r.code, r.stderr, want)
		}
	}
	// GANTRY_ADDRESS is the default address.
	r := gantryRun(t, t.TempDir(), []string{"GANTRY_ADDRESS=" + addr}, "status")
	if r.code != 1 || !strings.Contains(r.stderr, "no Gantry at "+addr) {
		t.Errorf("gantry status with GANTRY_ADDRESS: exit %d %q", r.code, r.stderr)
	}
	// An invalid config is reported without asking any gateway.
	cfgFile := writeConfig(t, "applications:\n- name: a\n  deployments:\n  - name: d\n    max_ongoing_requests: -4\n    colour: blue\n")
	r = gantryRun(t, t.TempDir(), nil, "deploy", cfgFile, "--address", addr)
	if r.code != 1 || !strings.Contains(r.stderr, "max_ongoing_requests") || !strings.Contains(r.stderr, "colour") || strings.Contains(r.stderr, "no Gantry") {
		t.Errorf("deploy of an invalid config: exit %d\n%s", r.code, r.stderr)
	}
	// shutdown asks first and does nothing without a yes.
	r = gantryRun(t, t.TempDir(), nil, "shutdown", "--address", addr)
	if r.code != 1 || !strings.Contains(r.stderr, "aborted") {
		t.Errorf("gantry shutdown without -y and no answer: exit %d %q", r.code, r.stderr)
	}
}

func TestClientAdminToken(t *testing.T) {
	const token = "tok-3f9a"
	t.Setenv("GANTRY_ADMIN_TOKEN", token) // the gateway's token, from its environment
	g := startEmptyGateway(t)
	noToken := []string{"GANTRY_ADMIN_TOKEN="}
	cfgFile := writeConfig(t, `
applications:
- name: app
  deployments:
  - name: d
    replica: {command: [`+strconv.Quote(testreplicaPath())+`]}
`)
	r := gantryRun(t, t.TempDir(), noToken, "deploy", cfgFile, "--address", g.dashboardURL)
	if r.code != 1 || !strings.Contains(r.stderr, "401") {
		t.Fatalf("deploy without the token: exit %d, want 1 and a 401\n%s", r.code, r.stderr)
	}
	r = gantryRun(t, t.TempDir(), noToken, "deploy", cfgFile, "--wait", "--address", g.dashboardURL, "--admin-token", token)
	if r.code != 0 {
		t.Fatalf("deploy --admin-token: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = gantryRun(t, t.TempDir(), noToken, "status", "--address", g.dashboardURL) // reads need no token
	if r.code != 0 || !strings.Contains(r.stdout, "status: RUNNING") {
		t.Errorf("status without the token: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// Replicas inherit the gateway's environment, but not its token.
	if code, body, err := testenv.TryGet(g.url + "/env?name=GANTRY_ADMIN_TOKEN"); err != nil || code != 200 || len(body) != 0 {
		t.Errorf("a replica sees GANTRY_ADMIN_TOKEN=%q (%d %v), want it unset", body, code, err)
	}
	r = gantryRun(t, t.TempDir(), nil, "shutdown", "-y", "--address", g.dashboardURL) // token from the environment
	if r.code != 0 {
		t.Fatalf("shutdown with GANTRY_ADMIN_TOKEN: exit %d\n%s", r.code, r.stderr)
	}
}

// TestServeRefusesPublicDashboardWithoutToken checks that gantry serve
// will not expose the REST API beyond loopback without a token.
func TestServeRefusesPublicDashboardWithoutToken(t *testing.T) {
	cfgFile := writeConfig(t, `
dashboard: {host: 0.0.0.0}
applications:
- name: app
  deployments:
  - name: d
    replica: {command: [`+strconv.Quote(testreplicaPath())+`]}
`)
	port := strconv.Itoa(testenv.FreePorts(t, 1)[0])
	p := startGantry(t, "serve", cfgFile, "--dashboard-port", port, "--http-port", strconv.Itoa(testenv.FreePorts(t, 1)[0]), "--grpc-port", strconv.Itoa(testenv.FreePorts(t, 1)[0]), "--state-dir", t.TempDir())
	if code := p.Wait(t, 10*time.Second); code != 1 {
		t.Fatalf("exit code %d, want 1", code)
	}
	if stderr := p.Stderr.String(); !strings.Contains(stderr, "without an admin token") || !strings.Contains(stderr, "--admin-token") {
		t.Errorf("stderr does not say why:\n%s", stderr)
	}
}

func TestAbsolutizeReplicaPaths(t *testing.T) {
	cfg, err := config.Parse([]byte(`
applications:
- name: a
  deployments:
  - {name: rel, replica: {command: [./bin/r, ./arg]}}
  - {name: bare, replica: {command: [python3, main.py], working_dir: sub}}
  - {name: self, replica: {command: [gantry, example, painter], working_dir: /abs}}
  - {name: nested, replica: {command: [tools/r], working_dir: ../x}}
`))
	if err != nil {
		t.Fatal(err)
	}
	cfg.BaseDir = "/cfg/dir"
	absolutizeReplicaPaths(cfg)
	got := map[string][2]any{}
	for _, d := range cfg.Applications[0].Deployments {
		got[d.Name] = [2]any{d.Replica.Command, d.Replica.WorkingDir}
	}
	want := map[string][2]any{
		"rel":    {[]string{"/cfg/dir/bin/r", "./arg"}, "/cfg/dir"},
		"bare":   {[]string{"python3", "main.py"}, "/cfg/dir/sub"},
		"self":   {[]string{"gantry", "example", "painter"}, "/abs"},
		"nested": {[]string{"/cfg/dir/tools/r"}, "/cfg/x"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
	if cfg.BaseDir != "" {
		t.Errorf("BaseDir %q left set", cfg.BaseDir)
	}
}

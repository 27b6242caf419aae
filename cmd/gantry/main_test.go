package main

// End-to-end tests of the gantry command: each test runs the real binary as
// a child process on free ports, talks to it over HTTP and signals it.
// Shared helpers live here; the serving scenarios are in serve_test.go.

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// binDir holds the gantry and testreplica binaries, built once.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithBinaries(m, &binDir, "gantry.dev/gantry/cmd/gantry", "gantry.dev/gantry/internal/testreplica"))
}

func gantryPath() string      { return filepath.Join(binDir, "gantry") }
func testreplicaPath() string { return filepath.Join(binDir, "testreplica") }

// startGantry runs the gantry binary with args (see testenv.StartProc).
func startGantry(t *testing.T, args ...string) *testenv.Proc {
	t.Helper()
	return testenv.StartProc(t, exec.Command(gantryPath(), args...), "")
}

// gateway is a `gantry serve` child process and where it listens.
type gateway struct {
	*testenv.Proc
	url, dashboardURL string // http://127.0.0.1:port
	stateDir          string
}

// startGateway runs `gantry serve config` on free ports with a fresh state
// directory.
func startGateway(t *testing.T, config string) *gateway {
	t.Helper()
	ports := testenv.FreePorts(t, 3)
	stateDir := t.TempDir()
	p := startGantry(t, "serve", config,
		"--http-port", strconv.Itoa(ports[0]), "--grpc-port", strconv.Itoa(ports[2]),
		"--dashboard-port", strconv.Itoa(ports[1]),
		"--state-dir", stateDir)
	return &gateway{
		Proc:         p,
		url:          "http://127.0.0.1:" + strconv.Itoa(ports[0]),
		dashboardURL: "http://127.0.0.1:" + strconv.Itoa(ports[1]),
		stateDir:     stateDir,
	}
}

// until polls cond until it holds, failing the test if within passes first
// or if gantry exits meanwhile (it would never hold then).
func (g *gateway) until(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	switch {
	case g.Until(within, cond):
	case g.Exited():
		t.Fatalf("gantry exited (code %d) while waiting for %s", g.Cmd.ProcessState.ExitCode(), what)
	default:
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}

// writeConfig writes a config file into a new temporary directory.
func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "serve.yaml")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// metrics returns the dashboard's /metrics text, or "" if it cannot.
func (g *gateway) metrics() string {
	code, body, err := testenv.TryGet(g.dashboardURL + "/metrics")
	if err != nil || code != 200 {
		return ""
	}
	return string(body)
}

// metricIs reports whether metric name with labels including want has
// exactly one sample, and whether ok(value) holds for it.
func metricIs(text, name string, want map[string]string, ok func(float64) bool) bool {
	s := testenv.Samples(text, name, want)
	return len(s) == 1 && ok(s[0].Value)
}

// TestInvalidConfigReportsEveryProblem checks that a config with several
// problems is rejected with all of them named, before anything starts.
func TestInvalidConfigReportsEveryProblem(t *testing.T) {
	config := writeConfig(t, `
applications:
- name: app
  route_prefix: api
  import_path: "foo bar"
  deployments:
  - name: d
    max_ongoing_requests: -4
    replicas_count: 3
    replica: {command: [does-not-matter]}
`)
	g := startGateway(t, config)
	if code := g.Wait(t, 10*time.Second); code == 0 || code == -1 {
		t.Fatalf("exit code %d, want a non-zero exit", code)
	}
	stderr := g.Stderr.String()
	for _, path := range []string{
		"applications[0].route_prefix",
		"applications[0].import_path",
		"applications[0].deployments[0].replica",
		"applications[0].deployments[0].max_ongoing_requests",
		"applications[0].deployments[0].replicas_count",
	} {
		// One problem per line, each "path: message".
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(path) + `: \S`).MatchString(stderr) {
			t.Errorf("stderr does not report %s on a line of its own:\n%s", path, stderr)
		}
	}
	if !strings.Contains(stderr, config) {
		t.Errorf("stderr does not name the config file %s:\n%s", config, stderr)
	}
	if strings.Contains(stderr, "gateway serving") {
		t.Errorf("gantry started serving an invalid config:\n%s", stderr)
	}
}

func TestMissingConfigFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "nope", "serve.yaml")
	g := startGateway(t, missing)
	if code := g.Wait(t, 10*time.Second); code == 0 || code == -1 {
		t.Fatalf("exit code %d, want a non-zero exit", code)
	}
	stderr := g.Stderr.String()
	if !strings.Contains(stderr, missing) || !strings.Contains(stderr, "no such file or directory") {
		t.Errorf("stderr does not say that %s does not exist:\n%s", missing, stderr)
	}
}

func TestServeUnknownFlagIsAUsageError(t *testing.T) {
	config := writeConfig(t, "applications: []\n")
	for name, args := range map[string][]string{
		"before config": {"serve", "--no-such-flag", config},
		"after config":  {"serve", config, "--no-such-flag"},
		"bad value":     {"serve", config, "--http-port", "eighty"},
	} {
		t.Run(name, func(t *testing.T) {
			p := startGantry(t, args...)
			if code := p.Wait(t, 10*time.Second); code != 2 {
				t.Fatalf("gantry %s: exit code %d, want 2", strings.Join(args, " "), code)
			}
			stderr := p.Stderr.String()
			if !strings.Contains(stderr, "usage: gantry serve") {
				t.Errorf("no usage on stderr:\n%s", stderr)
			}
			if strings.Contains(stderr, "gateway serving") {
				t.Errorf("gantry started serving:\n%s", stderr)
			}
		})
	}
}

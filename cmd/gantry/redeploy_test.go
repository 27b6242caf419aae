package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// Redeploying the config a gateway was started with, through the REST API,
// must not replace replicas unless what they run changed: `gantry serve
// CONFIG` and `gantry deploy CONFIG` resolve the config's folder and its
// relative paths the same way, so they give the same code version. When
// code does change, the event and the status message name the field.

// liveReplica is a replica of /api/gantry/applications, as far as these
// tests look at it.
type liveReplica struct {
	ID      string `json:"replica_id"`
	PID     *int   `json:"pid"`
	State   string `json:"state"`
	Version string `json:"version"`
}

// gantryReplicas lists the replicas of app/dep and the deployment's
// message; none while the gateway does not answer yet.
func gantryReplicas(t *testing.T, g *gateway, app, dep string) (rs []liveReplica, message string) {
	t.Helper()
	code, body, err := testenv.TryGet(g.dashboardURL + "/api/gantry/applications")
	if err != nil || code != 200 {
		return nil, ""
	}
	var v struct {
		Applications map[string]struct {
			Deployments map[string]struct {
				Message  string        `json:"message"`
				Replicas []liveReplica `json:"replicas"`
			} `json:"deployments"`
		} `json:"applications"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("GET /api/gantry/applications: %v\n%s", err, body)
	}
	d := v.Applications[app].Deployments[dep]
	return d.Replicas, d.Message
}

// runningPIDs maps the RUNNING replicas' ids to their pids.
func runningPIDs(rs []liveReplica) map[string]int {
	out := map[string]int{}
	for _, r := range rs {
		if r.State == "RUNNING" && r.PID != nil {
			out[r.ID] = *r.PID
		}
	}
	return out
}

// gantryEvents returns the messages of the gateway's events of one kind.
func gantryEvents(t *testing.T, g *gateway, kind string) []string {
	t.Helper()
	code, body, err := testenv.TryGet(g.dashboardURL + "/api/gantry/events")
	if err != nil || code != 200 {
		t.Fatalf("GET /api/gantry/events: %d %v", code, err)
	}
	var evs []struct {
		Kind    string `json:"kind"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal(body, &evs); err != nil {
		t.Fatalf("GET /api/gantry/events: %v\n%s", err, body)
	}
	var out []string
	for _, e := range evs {
		if e.Kind == kind {
			out = append(out, e.Message)
		}
	}
	return out
}

func TestDeployOfTheServedConfigScalesInPlace(t *testing.T) {
	pidDir := newPIDDir(t)
	project := t.TempDir()
	if err := os.MkdirAll(filepath.Join(project, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testreplicaPath(), filepath.Join(project, "bin", "server")); err != nil {
		t.Fatal(err)
	}
	unhealthy := filepath.Join(t.TempDir(), "unhealthy")
	// The example's shape: a relative command and no working_dir.
	cfgFile := filepath.Join(project, "serve.yaml")
	write := func(numReplicas int, extraEnv string) {
		t.Helper()
		if err := os.WriteFile(cfgFile, []byte(`
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    num_replicas: `+strconv.Itoa(numReplicas)+`
    graceful_shutdown_timeout_s: 5
    replica:
      command: [./bin/server]
      env: {TESTREPLICA_PID_DIR: `+strconv.Quote(pidDir)+extraEnv+`}
`), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(2, "")
	g := startGateway(t, cfgFile)
	var before map[string]int
	g.until(t, 30*time.Second, "2 running replicas", func() bool {
		rs, _ := gantryReplicas(t, g, "app", "d")
		before = runningPIDs(rs)
		return len(before) == 2
	})

	// Only num_replicas changes, applied from another folder.
	write(3, "")
	r := gantryRun(t, t.TempDir(), nil, "deploy", cfgFile, "--wait", "--timeout", "60s", "--address", g.dashboardURL)
	if r.code != 0 {
		t.Fatalf("gantry deploy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	var after map[string]int
	g.until(t, 30*time.Second, "3 running replicas", func() bool {
		rs, _ := gantryReplicas(t, g, "app", "d")
		after = runningPIDs(rs)
		return len(after) == 3
	})
	for id, pid := range before {
		if after[id] != pid {
			t.Errorf("replica %s (pid %d) was replaced by a scale-up: replicas now %v", id, pid, after)
		}
	}
	for _, m := range gantryEvents(t, g, "DEPLOYMENT_UPDATED") {
		if strings.Contains(m, "code changed") {
			t.Errorf("a scale-up was taken for a code change: %q", m)
		}
	}

	// A real code change names its field, in the event and in the status
	// message while the rollout runs. The new replicas stay unhealthy
	// until the file is gone, so the rollout is caught under way.
	if err := os.WriteFile(unhealthy, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	write(3, ", FOO: bar, TESTREPLICA_UNHEALTHY_FILE: "+strconv.Quote(unhealthy))
	if r := gantryRun(t, t.TempDir(), nil, "deploy", cfgFile, "--address", g.dashboardURL); r.code != 0 {
		t.Fatalf("gantry deploy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	const want = "code changed: replica.env.FOO, replica.env.TESTREPLICA_UNHEALTHY_FILE"
	var message string
	g.until(t, 20*time.Second, "the status message of the rollout", func() bool {
		_, message = gantryReplicas(t, g, "app", "d")
		return message != ""
	})
	if !strings.Contains(message, want) {
		t.Errorf("status message during the rollout = %q, want it to contain %q", message, want)
	}
	if s := gantryStatus(t, g); !strings.Contains(s.Applications["app"].Deployments["d"].Message, want) {
		t.Errorf("gantry status: deployment message %q, want it to contain %q", s.Applications["app"].Deployments["d"].Message, want)
	}
	if evs := gantryEvents(t, g, "DEPLOYMENT_UPDATED"); !slices.ContainsFunc(evs, func(m string) bool { return strings.Contains(m, want) }) {
		t.Errorf("DEPLOYMENT_UPDATED events %q: none contains %q", evs, want)
	}
	if err := os.Remove(unhealthy); err != nil {
		t.Fatal(err)
	}
	g.until(t, 60*time.Second, "the rollout to replace every replica", func() bool {
		rs, _ := gantryReplicas(t, g, "app", "d")
		now := runningPIDs(rs)
		for id := range after {
			if _, ok := now[id]; ok {
				return false
			}
		}
		return len(now) == 3 && len(rs) == 3
	})
}

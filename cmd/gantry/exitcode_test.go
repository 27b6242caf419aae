package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// TestStatusShowsTheExitCodeOfAReplicaThatExitsAtOnce deploys a replica
// that exits with code 3 before it is healthy, through a real gateway with
// a real child process, and checks that `gantry status` and the REST
// message say "exit status 3", as the crash event does (issue 12, finding 3).
func TestStatusShowsTheExitCodeOfAReplicaThatExitsAtOnce(t *testing.T) {
	g := startEmptyGateway(t)
	config := writeConfig(t, `
applications:
- name: quits
  deployments:
  - name: q
    replica:
      command: [sh, -c, "echo the model file is missing; exit 3"]
`)
	if r := gantryRun(t, t.TempDir(), nil, "deploy", config, "--address", g.dashboardURL); r.code != 0 {
		t.Fatalf("gantry deploy: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	const want = "exited with exit status 3 before becoming healthy; last log lines:\nthe model file is missing"
	var last statusOut
	g.until(t, 60*time.Second, "the exit status in gantry status", func() bool {
		last = gantryStatus(t, g)
		a := last.Applications["quits"]
		return strings.Contains(a.Message, want) && strings.Contains(a.Deployments["q"].Message, want)
	})

	code, body, err := testenv.TryGet(g.dashboardURL + "/api/serve/applications/")
	if err != nil || code != 200 {
		t.Fatalf("GET /api/serve/applications/: %d %v", code, err)
	}
	var v struct {
		Applications map[string]struct {
			Message     string `json:"message"`
			Deployments map[string]struct {
				Message string `json:"message"`
			} `json:"deployments"`
		} `json:"applications"`
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatal(err)
	}
	if a := v.Applications["quits"]; !strings.Contains(a.Message, "exit status 3") || !strings.Contains(a.Deployments["q"].Message, "exit status 3") {
		t.Errorf("REST messages %q and %q lack the exit status", a.Message, a.Deployments["q"].Message)
	}
}

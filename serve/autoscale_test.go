package serve_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/admin"
	"gantry.dev/gantry/serve/servetest"
)

// runningCount is the number of RUNNING replicas.
func runningCount(srv *serve.Server) int { return len(servetest.RunningNow(srv)) }

func TestAutoscalerFollowsLoadUpAndBackDown(t *testing.T) {
	if testing.Short() {
		t.Skip("scales with real load for ~15 s")
	}
	// The scenario; look_back_period_s is shortened from Ray's 30 s
	// default so the averaged load reflects the step within the test's 10 s.
	srv, url := servetest.GatewayWith(t, `
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    max_ongoing_requests: 4
    autoscaling_config:
      min_replicas: 1
      max_replicas: 4
      target_ongoing_requests: 1
      upscale_delay_s: 1
      downscale_delay_s: 2
      look_back_period_s: 2
    replica: {command: [TESTREPLICA]}
`)
	servetest.WaitRoute(t, url+"/id")
	stop := load(url+"/slow?ms=300", 8)
	start := time.Now()
	reached := testenv.Eventually(10*time.Second, func() bool { return runningCount(srv) == 4 })
	took := time.Since(start)
	ok, failures := stop()
	if !reached {
		t.Fatalf("only %d replicas RUNNING 10 s into the load: %+v", runningCount(srv), srv.Controller().Status())
	}
	t.Logf("4 replicas RUNNING %v after 8 clients started; %d requests, %d failed", took.Round(time.Millisecond), ok, len(failures))
	if len(failures) > 0 {
		t.Fatalf("%d requests failed while scaling up; first: %s", len(failures), failures[0])
	}
	if !testenv.Eventually(30*time.Second, func() bool {
		d := srv.Controller().Status()[0]
		return runningCount(srv) == 1 && len(d.Replicas) == 1 && d.Status == deploy.DeploymentHealthy
	}) {
		t.Fatalf("not back to min_replicas after the load stopped: %+v", srv.Controller().Status())
	}
	if d := srv.Controller().Status()[0]; d.Trigger != deploy.TriggerDownscaleCompleted {
		t.Errorf("trigger after scaling down = %s, want DOWNSCALE_COMPLETED", d.Trigger)
	}
	var view admin.GantryInstance
	_, _, body := servetest.Call(t, http.MethodGet, "http://"+srv.DashboardAddr()+"/api/gantry/applications", "", "")
	if err := json.Unmarshal([]byte(body), &view); err != nil {
		t.Fatal(err)
	}
	a := view.Applications["app"].Deployments["d"].Autoscaler
	if a == nil || a.TargetReplicas != 1 || a.Reason == "" {
		t.Errorf("the Gantry view shows autoscaler %+v; want target 1 and the reason of the last decision", a)
	}
	// The events have each scale decision with its reason: up, then down to 1.
	var up, down bool
	for _, e := range servetest.Events(t, "http://"+srv.DashboardAddr()) {
		if e.Kind == deploy.EventScaled && e.Deployment == "d" {
			from, to, ok := scaledFromTo(e.Message)
			up = up || (ok && to > from && !down)
			down = down || (ok && up && to < from && strings.Contains(e.Message, ": "))
		}
	}
	if !up || !down {
		t.Errorf("AUTOSCALED events do not show the way up then down (up %v, down %v)", up, down)
	}
}

// scaledFromTo reads "N → M replicas: reason".
func scaledFromTo(msg string) (from, to int, ok bool) {
	n, err := fmt.Sscanf(msg, "%d → %d replicas:", &from, &to)
	return from, to, err == nil && n == 2
}

func TestScaleToZeroAndBackServesEveryRequest(t *testing.T) {
	srv, url := servetest.GatewayWith(t, `
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    autoscaling_config:
      min_replicas: 0
      initial_replicas: 0
      max_replicas: 2
      downscale_delay_s: 1
      downscale_to_zero_delay_s: 1
      look_back_period_s: 1
    replica: {command: [TESTREPLICA]}
`)
	if !testenv.Eventually(10*time.Second, func() bool {
		s := srv.Controller().Status()
		return len(s) == 1 && len(s[0].Replicas) == 0
	}) {
		t.Fatal("deployment did not start at zero replicas")
	}
	var wg sync.WaitGroup
	codes := make([]int, 5)
	took := make([]time.Duration, 5)
	for i := range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			resp, err := http.Get(url + "/id")
			if err != nil {
				t.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes[i], took[i] = resp.StatusCode, time.Since(start)
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Fatalf("request %d got %d, want 200", i, c)
		}
	}
	t.Logf("cold start: 5 requests from zero replicas answered in %v", took)
	if !testenv.Eventually(30*time.Second, func() bool {
		s := srv.Controller().Status()
		return len(s[0].Replicas) == 0
	}) {
		t.Fatalf("idle deployment did not go back to zero: %+v", srv.Controller().Status())
	}
}

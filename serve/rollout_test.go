package serve_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/deploy/local"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/replica"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/servetest"
)

// rolloutConfig is a one-deployment app running the test replica.
func rolloutConfig(t *testing.T, replicas int, extra string) *config.Config {
	t.Helper()
	yaml := fmt.Sprintf(`
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    num_replicas: %d
    graceful_shutdown_timeout_s: 5
%s`, replicas, extra)
	if !strings.Contains(extra, "health_check_period_s") {
		yaml += "    health_check_period_s: 1\n"
	}
	if !strings.Contains(extra, "replica:") {
		yaml += "    replica: {command: [TESTREPLICA]}\n"
	}
	cfg, err := config.Parse([]byte(servetest.WithTestReplica(yaml)))
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	return cfg
}

// settle waits until the application reaches want with n replicas of the
// deployment RUNNING, and returns their PIDs.
func settle(t *testing.T, srv *serve.Server, want deploy.AppState, n int) []int {
	t.Helper()
	var pids []int
	var last *deploy.Snapshot
	if !testenv.Eventually(60*time.Second, func() bool {
		last = srv.Controller().Snapshot()
		pids = pids[:0]
		if len(last.Applications) != 1 || last.Applications[0].Status != want {
			return false
		}
		for _, r := range last.Applications[0].Deployments[0].Replicas {
			if r.State == replica.Running {
				pids = append(pids, r.PID)
			}
		}
		return len(pids) == n && len(last.Applications[0].Deployments[0].Replicas) == n
	}) {
		t.Fatalf("application never reached %s with %d replicas: %+v", want, n, last.Applications)
	}
	slices.Sort(pids)
	return pids
}

// load runs clients GET loops against url until stop is called, and
// returns how many requests succeeded and the failures.
func load(url string, clients int) (stop func() (ok int64, failures []string)) {
	ctx, cancel := context.WithCancel(context.Background())
	var okN atomic.Int64
	var mu sync.Mutex
	var failures []string
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 30 * time.Second}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				resp, err := client.Get(url)
				if err == nil {
					var body []byte
					body, err = io.ReadAll(io.LimitReader(resp.Body, 4<<10))
					resp.Body.Close()
					if err == nil && resp.StatusCode != 200 {
						// The body names the replica and the error: the clue to a failure.
						err = fmt.Errorf("status %d: %s", resp.StatusCode, bytes.TrimSpace(body))
					}
				}
				if err != nil {
					mu.Lock()
					failures = append(failures, err.Error())
					mu.Unlock()
				} else {
					okN.Add(1)
				}
			}
		}()
	}
	return func() (int64, []string) {
		cancel()
		wg.Wait()
		return okN.Load(), failures
	}
}

func TestCodeChangeRollsEveryReplicaWithoutAFailedRequest(t *testing.T) {
	srv, url := servetest.GatewayWith(t, "")
	servetest.Apply(t, srv, rolloutConfig(t, 3, ""))
	before := settle(t, srv, deploy.AppRunning, 3)

	stop := load(url+"/slow?ms=100", 8) // requests in flight on every replica as it drains
	servetest.Apply(t, srv, rolloutConfig(t, 3, "    replica: {command: [TESTREPLICA], env: {MODEL_VERSION: v2}}\n"))
	after := settle(t, srv, deploy.AppRunning, 3)
	ok, failures := stop()
	t.Logf("%d requests during the rollout, %d failed", ok, len(failures))
	if len(failures) > 0 {
		t.Fatalf("%d requests failed during the rollout; first: %s", len(failures), failures[0])
	}
	for _, pid := range before {
		if slices.Contains(after, pid) || testenv.Alive(pid) {
			t.Errorf("old replica %d still running after the rollout", pid)
		}
	}
	if got := servetest.GetBody(t, url+"/env?name=MODEL_VERSION"); got != "v2" {
		t.Errorf("new replicas see MODEL_VERSION=%q", got)
	}
}

func TestUserConfigAndScaleDownApplyInPlace(t *testing.T) {
	srv, url := servetest.GatewayWith(t, "")
	servetest.Apply(t, srv, rolloutConfig(t, 3, "    user_config: {threshold: 1}\n"))
	before := settle(t, srv, deploy.AppRunning, 3)

	servetest.Apply(t, srv, rolloutConfig(t, 3, "    user_config: {threshold: 2}\n"))
	if !testenv.Eventually(30*time.Second, func() bool {
		for range 6 { // every replica, whichever the router picks
			if servetest.GetBody(t, url+"/config") != `{"threshold":2}` {
				return false
			}
		}
		d := srv.Controller().Snapshot().Applications[0].Deployments[0]
		return d.Status == deploy.DeploymentHealthy && d.Trigger == deploy.TriggerConfigUpdateCompleted
	}) {
		t.Fatal("user_config never reached every replica")
	}
	if after := settle(t, srv, deploy.AppRunning, 3); !slices.Equal(before, after) {
		t.Fatalf("replicas restarted for a user_config change: %v → %v", before, after)
	}

	servetest.Apply(t, srv, rolloutConfig(t, 1, "    user_config: {threshold: 2}\n"))
	after := settle(t, srv, deploy.AppRunning, 1)
	if !slices.Contains(before, after[0]) {
		t.Fatalf("scaling 3 → 1 started a new replica %d instead of keeping one of %v", after[0], before)
	}
}

func TestFailingRolloutIsDeployFailedAndTheOldVersionServes(t *testing.T) {
	srv, url := servetest.GatewayWith(t, "")
	servetest.Apply(t, srv, rolloutConfig(t, 1, ""))
	before := settle(t, srv, deploy.AppRunning, 1)

	stop := load(url+"/id", 4)
	servetest.Apply(t, srv, rolloutConfig(t, 1, "    replica: {command: [sh, -c, 'echo cannot load the model weights >&2; exit 3']}\n"))
	var app deploy.AppStatus
	if !testenv.Eventually(60*time.Second, func() bool {
		app = srv.Controller().Snapshot().Applications[0]
		return app.Status == deploy.AppDeployFailed
	}) {
		t.Fatalf("never DEPLOY_FAILED: %+v", app)
	}
	ok, failures := stop()
	if len(failures) > 0 || ok == 0 {
		t.Fatalf("old version stopped serving: %d ok, failures %v", ok, failures)
	}
	d := app.Deployments[0]
	if d.Trigger != deploy.TriggerReplicaStartupFailed || !strings.Contains(d.Message, "cannot load the model weights") {
		t.Fatalf("trigger %s, message %q: want REPLICA_STARTUP_FAILED with the replica's log lines", d.Trigger, d.Message)
	}
	if !testenv.Alive(before[0]) {
		t.Fatal("the old replica was stopped")
	}
}

func TestRestartWithTheSameStateDirBringsApplicationsBack(t *testing.T) {
	state := t.TempDir()
	start := func(cfg *config.Config) (*serve.Server, string, func()) {
		backend := local.New(local.Options{StateDir: state, Logger: slog.New(slog.DiscardHandler)})
		gw := servetest.New(t, serve.Options{Config: cfg},
			deploy.Options{Backend: backend, Store: &deploy.Store{Path: filepath.Join(state, "applied.json")}})
		stop := servetest.Run(t, gw)
		return gw.Server, "http://" + gw.Server.HTTPAddr(), func() {
			stop()
			backend.Close()
		}
	}
	srv, _, stop := start(rolloutConfig(t, 2, ""))
	settle(t, srv, deploy.AppRunning, 2)
	stop()

	srv, url, stop := start(nil) // no config: the state dir has it
	defer stop()
	settle(t, srv, deploy.AppRunning, 2)
	servetest.WaitRoute(t, url+"/id")
}

func TestHealthSettingsApplyInPlaceToRunningReplicas(t *testing.T) {
	srv, _ := servetest.GatewayWith(t, "")
	flag := filepath.Join(t.TempDir(), "unhealthy")
	withPeriod := func(period string) *config.Config {
		return rolloutConfig(t, 1, "    health_check_period_s: "+period+"\n    health_check_timeout_s: 1\n"+
			"    replica: {command: [TESTREPLICA], env: {TESTREPLICA_UNHEALTHY_FILE: "+flag+"}}\n")
	}
	servetest.Apply(t, srv, withPeriod("60"))
	before := settle(t, srv, deploy.AppRunning, 1)
	servetest.Apply(t, srv, withPeriod("0.1")) // only the health settings change
	if after := settle(t, srv, deploy.AppRunning, 1); !slices.Equal(before, after) {
		t.Fatalf("a health settings change restarted the replica: %v → %v", before, after)
	}
	// With the old 60 s period nothing would look for a minute; with the
	// new one, 3 failed checks replace the replica within a second or so.
	if err := os.WriteFile(flag, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if !testenv.Eventually(10*time.Second, func() bool { return !testenv.Alive(before[0]) }) {
		t.Fatal("an unhealthy replica was not replaced: the new health_check_period_s did not apply")
	}
	os.Remove(flag)
	settle(t, srv, deploy.AppRunning, 1)
}

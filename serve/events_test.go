package serve_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/serve/servetest"
)

// indexOf returns the position of the first event of kind about replica
// id ("" matches any replica), or -1.
func indexOf(evs []deploy.Event, kind deploy.EventKind, id string) int {
	for i, e := range evs {
		if e.Kind == kind && (id == "" || e.Replica == id) {
			return i
		}
	}
	return -1
}

func TestEventsShowARolloutStepByStep(t *testing.T) {
	srv, _ := servetest.GatewayWith(t, "")
	dashboard := "http://" + srv.DashboardAddr()
	servetest.Apply(t, srv, rolloutConfig(t, 1, ""))
	settle(t, srv, deploy.AppRunning, 1)
	old := servetest.RunningNow(srv)[0].ID

	servetest.Apply(t, srv, rolloutConfig(t, 1, "    replica: {command: [TESTREPLICA], env: {MODEL_VERSION: v2}}\n"))
	settle(t, srv, deploy.AppRunning, 1)
	cur := servetest.RunningNow(srv)[0].ID
	if cur == old {
		t.Fatalf("the replica %s was not replaced", old)
	}
	var evs []deploy.Event
	if !testenv.Eventually(30*time.Second, func() bool {
		evs = servetest.Events(t, dashboard)
		return indexOf(evs, deploy.EventReplicaStopped, old) >= 0
	}) {
		t.Fatalf("the old replica never showed as stopped: %+v", evs)
	}
	// The steps of a rolling update, in order: the new one starts and is
	// healthy before the old one drains, then the old one is gone.
	steps := []struct {
		kind deploy.EventKind
		id   string
	}{
		{deploy.EventConfigApplied, ""},
		{deploy.EventReplicaStarting, old},
		{deploy.EventReplicaHealthy, old},
		{deploy.EventConfigApplied, ""},
		{deploy.EventDeploymentUpdated, ""},
		{deploy.EventReplicaStarting, cur},
		{deploy.EventReplicaHealthy, cur},
		{deploy.EventReplicaDraining, old},
		{deploy.EventReplicaStopped, old},
	}
	at := -1
	for _, s := range steps {
		i := indexOf(evs[at+1:], s.kind, s.id)
		if i < 0 {
			t.Fatalf("no %s of %q after event %d; events:\n%s", s.kind, s.id, at, describe(evs))
		}
		at += 1 + i
	}
	d := evs[indexOf(evs, deploy.EventReplicaDraining, old)]
	if !strings.Contains(d.Message, "rollout") || d.Application != "app" || d.Deployment != "d" {
		t.Errorf("draining event = %+v; want it to name the rollout, app and deployment", d)
	}
	for i := 1; i < len(evs); i++ {
		if evs[i].Seq != evs[i-1].Seq+1 || evs[i].Time.Before(evs[i-1].Time) {
			t.Errorf("events out of order at %d: %+v then %+v", i, evs[i-1], evs[i])
		}
	}
}

func TestEventsShowACrashWithItsExitCodeAndFollowStreamsIt(t *testing.T) {
	srv, url := servetest.GatewayWith(t, "")
	dashboard := "http://" + srv.DashboardAddr()
	servetest.Apply(t, srv, rolloutConfig(t, 1, ""))
	settle(t, srv, deploy.AppRunning, 1)
	victim := servetest.RunningNow(srv)[0].ID

	resp, err := http.Get(dashboard + "/api/gantry/events?follow=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("follow answered %s %q, want text/event-stream", resp.Status, ct)
	}
	got := make(chan deploy.Event, 100)
	go func() {
		defer close(got)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				var e deploy.Event
				if json.Unmarshal([]byte(data), &e) == nil {
					got <- e
				}
			}
		}
	}()

	// The replica exits with code 7 in the middle of the request.
	if resp, err := http.Post(url+"/exit?code=7", "text/plain", nil); err == nil {
		resp.Body.Close()
	}

	deadline := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-got:
			if !ok {
				t.Fatal("the event stream ended before the crash showed")
			}
			if e.Kind != deploy.EventReplicaCrashed {
				continue
			}
			if e.Replica != victim || e.ExitCode == nil || *e.ExitCode != 7 || e.Level != "error" {
				t.Fatalf("crash event = %+v; want replica %s with exit code 7", e, victim)
			}
			if !strings.Contains(e.Message, "exit status 7") {
				t.Errorf("crash message %q does not say how it exited", e.Message)
			}
			// The replacement follows on the same stream.
			for e := range got {
				if e.Kind == deploy.EventReplicaHealthy && e.Replica != victim {
					return
				}
			}
			t.Fatal("the stream ended before the replacement became healthy")
		case <-deadline:
			t.Fatal("no REPLICA_CRASHED event within 30s")
		}
	}
}

func describe(evs []deploy.Event) string {
	var b strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&b, "  %d %s %s %s\n", e.Seq, e.Kind, e.Replica, e.Message)
	}
	return b.String()
}

func TestEventsShowAFailedHealthCheck(t *testing.T) {
	srv, _ := servetest.GatewayWith(t, "")
	dashboard := "http://" + srv.DashboardAddr()
	sick := filepath.Join(t.TempDir(), "sick")
	servetest.Apply(t, srv, rolloutConfig(t, 1, "    health_check_timeout_s: 1\n    replica: {command: [TESTREPLICA], env: {TESTREPLICA_UNHEALTHY_FILE: "+sick+"}}\n"))
	settle(t, srv, deploy.AppRunning, 1)
	victim := servetest.RunningNow(srv)[0].ID
	if err := os.WriteFile(sick, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var evs []deploy.Event
	if !testenv.Eventually(30*time.Second, func() bool {
		evs = servetest.Events(t, dashboard)
		return indexOf(evs, deploy.EventHealthCheckFailed, victim) >= 0
	}) {
		t.Fatalf("no HEALTH_CHECK_FAILED for %s:\n%s", victim, describe(evs))
	}
	e := evs[indexOf(evs, deploy.EventHealthCheckFailed, victim)]
	if e.Level != "error" || e.ExitCode != nil || e.Message == "" {
		t.Errorf("health check event = %+v", e)
	}
	if indexOf(evs, deploy.EventReplicaCrashed, victim) >= 0 {
		t.Errorf("a replica that is alive but unhealthy showed as crashed:\n%s", describe(evs))
	}
}

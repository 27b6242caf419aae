package main

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// The applied config lives in the state dir: a gateway stopped with
// SIGTERM and started again with the same state dir and no config brings
// its applications back and serves them.
func TestRestartWithTheStateDirAndNoConfigRestoresApplications(t *testing.T) {
	pidDir := newPIDDir(t)
	g := startGateway(t, testreplicaConfig(t, pidDir, 2))
	g.until(t, 30*time.Second, "the route to answer", func() bool {
		code, _, err := testenv.TryGet(g.url + "/id")
		return err == nil && code == 200
	})
	g.Signal(t, syscall.SIGTERM)
	if code := g.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("gantry exited with %d after SIGTERM, want 0", code)
	}
	if left := alive(replicaPIDs(t, pidDir)); len(left) > 0 {
		t.Fatalf("replicas %v survived the first gateway", left)
	}

	ports := testenv.FreePorts(t, 3)
	again := startGantry(t, "serve", // no config: it comes from the state dir
		"--http-port", strconv.Itoa(ports[0]), "--grpc-port", strconv.Itoa(ports[2]), "--dashboard-port", strconv.Itoa(ports[1]), "--state-dir", g.stateDir)
	restarted := &gateway{Proc: again, url: "http://127.0.0.1:" + strconv.Itoa(ports[0]), stateDir: g.stateDir}
	restarted.until(t, 30*time.Second, "the restored application to answer", func() bool {
		code, _, err := testenv.TryGet(restarted.url + "/id")
		return err == nil && code == 200
	})
	restarted.until(t, 30*time.Second, "both restored replicas", func() bool {
		return len(alive(replicaPIDs(t, pidDir))) == 2
	})
}

package main

import (
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// TestNoReplicaProcessOutlivesTheGateway runs `gantry serve` with a replica
// that leaves processes behind (one in its process group, one in a session
// of its own, one double-forked) before it execs the test replica, waits
// until the replica is RUNNING, ends the gateway, and checks that no process
// the replica started remains (issue 14, finding 6). Every such process
// carries a marker in its environment.
func TestNoReplicaProcessOutlivesTheGateway(t *testing.T) {
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			pidDir := newPIDDir(t)
			value := strconv.FormatInt(time.Now().UnixNano(), 36)
			mark := "GANTRY_TEST_MARK=" + value
			t.Cleanup(func() { testenv.KillProcessesWithEnv(mark) }) // should the test fail
			config := writeConfig(t, `
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    graceful_shutdown_timeout_s: 5
    replica:
      command: [sh, -c, 'sleep 321 & setsid sleep 322 & (setsid sleep 323 &); exec "$SERVER"']
      env:
        SERVER: `+strconv.Quote(testreplicaPath())+`
        TESTREPLICA_PID_DIR: `+strconv.Quote(pidDir)+`
        GANTRY_TEST_MARK: `+value+`
`)
			g := startGateway(t, config)
			var pids map[string]int
			g.until(t, 60*time.Second, "a RUNNING replica", func() bool {
				rs, _ := gantryReplicas(t, g, "app", "d")
				pids = runningPIDs(rs)
				return len(pids) == 1
			})
			// The status shows the replica's PID, not its supervisor's.
			if recorded := replicaPIDs(t, pidDir); len(recorded) != 1 || !slices.Contains(mapValues(pids), recorded[0]) {
				t.Errorf("status shows PIDs %v, the replica recorded %v", pids, recorded)
			}
			leftBehind := []string{"sleep 321", "sleep 322", "sleep 323"}
			g.until(t, 10*time.Second, "the replica's descendants to start", func() bool {
				cmds := testenv.CommandsWithEnv(mark)
				return !slices.ContainsFunc(leftBehind, func(c string) bool { return !slices.Contains(cmds, c) })
			})

			g.Signal(t, sig)
			g.Wait(t, 30*time.Second)
			var left []string
			if !testenv.Eventually(10*time.Second, func() bool {
				left = testenv.CommandsWithEnv(mark)
				return len(left) == 0
			}) {
				t.Fatalf("processes started by the replica outlived the gateway's %v: %q", sig, left)
			}
		})
	}
}

func mapValues(m map[string]int) []int {
	var out []int
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

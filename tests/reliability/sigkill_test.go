package reliability

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// Finding 6: processes a replica started outlived a gateway SIGKILL
// (`sh -c "sleep 321 & exec server"` left sleep under PID 1). Replayed:
// two such replicas serve a normal client; once both have started their
// sleep, the gateway is SIGKILLed, and no process any replica started
// (each carries a marker in its environment) remains.
func TestSIGKILLOfTheGatewayLeavesNoReplicaProcess(t *testing.T) {
	mark := "GANTRY_RELIABILITY_MARK=" + strconv.FormatInt(time.Now().UnixNano(), 36)
	t.Cleanup(func() { // should the test fail, leave nothing behind
		for _, pid := range processesWithEnv(mark) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	g := startGateway(t, `
applications:
- name: app
  route_prefix: /app
  deployments:
  - name: d
    num_replicas: 2
    replica:
      command: [sh, -c, 'sleep 321 & exec "$SERVER"']
      env:
        SERVER: TESTREPLICA
        GANTRY_RELIABILITY_MARK: `+mark[len("GANTRY_RELIABILITY_MARK="):]+`
`)
	g.waitRunning(t, "app", "d", 2, "/app/id")
	g.until(t, 10*time.Second, "both replicas' sleep 321 to start", func() bool {
		return count(commandsWithEnv(mark), "sleep 321") == 2
	})
	normal := startNormal(t, g.url+"/app/id", 2)
	past := normal.Successes() + 20
	testenv.WaitFor(t, 30*time.Second, "20 normal requests", func() bool { return normal.Successes() >= past })
	f := normal.Stop()
	if f.failed > 0 {
		t.Errorf("%d normal requests failed before the SIGKILL: %v", f.failed, f.failures)
	}

	g.kill(t, syscall.SIGKILL)
	var left []string
	if !testenv.Eventually(10*time.Second, func() bool {
		left = commandsWithEnv(mark)
		return len(left) == 0
	}) {
		t.Errorf("processes replicas started outlived the gateway's SIGKILL: %q", left)
	}
	record(t, result{attack: "6: SIGKILL of the gateway", during: f,
		bad: "no process of the 2 replicas (each `sleep 321 & exec server`) left after 10 s"})
}

func count(s []string, v string) int {
	n := 0
	for _, x := range s {
		if x == v {
			n++
		}
	}
	return n
}

// processesWithEnv lists the live (not zombie) processes whose environment
// holds kv.
func processesWithEnv(kv string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if i := bytes.LastIndexByte(stat, ')'); err != nil || i < 0 || i+2 >= len(stat) || stat[i+2] == 'Z' {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if slices.ContainsFunc(bytes.Split(env, []byte{0}), func(v []byte) bool { return string(v) == kv }) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// commandsWithEnv lists the command lines (arguments joined by spaces) of
// the live processes whose environment holds kv.
func commandsWithEnv(kv string) []string {
	var cmds []string
	for _, pid := range processesWithEnv(kv) {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
		if err == nil && len(b) > 0 {
			cmds = append(cmds, string(bytes.ReplaceAll(bytes.TrimSuffix(b, []byte{0}), []byte{0}, []byte{' '})))
		}
	}
	return cmds
}

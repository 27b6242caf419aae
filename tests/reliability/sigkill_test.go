package reliability

import (
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
	t.Cleanup(func() { testenv.KillProcessesWithEnv(mark) }) // should the test fail, leave nothing behind
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
		return count(testenv.CommandsWithEnv(mark), "sleep 321") == 2
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
		left = testenv.CommandsWithEnv(mark)
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

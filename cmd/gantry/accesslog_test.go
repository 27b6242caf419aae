package main

import (
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// TestAccessLogIsOnByDefaultAndOffWithTheFlag runs gantry serve twice on
// the same config: by default every routed request gets an access log line
// on stderr; with --access-log=false none does.
func TestAccessLogIsOnByDefaultAndOffWithTheFlag(t *testing.T) {
	config := testreplicaConfig(t, newPIDDir(t), 1)
	for _, on := range []bool{true, false} {
		t.Run("access-log="+strconv.FormatBool(on), func(t *testing.T) {
			ports := testenv.FreePorts(t, 3)
			args := []string{"serve", config, "--http-port", strconv.Itoa(ports[0]),
				"--dashboard-port", strconv.Itoa(ports[1]), "--grpc-port", strconv.Itoa(ports[2]), "--state-dir", t.TempDir()}
			if !on {
				args = append(args, "--access-log=false")
			}
			g := &gateway{Proc: startGantry(t, args...), url: "http://127.0.0.1:" + strconv.Itoa(ports[0])}
			g.until(t, 30*time.Second, "GET /id to answer 200", func() bool {
				code, _, err := testenv.TryGet(g.url + "/id")
				return err == nil && code == 200
			})
			g.Signal(t, syscall.SIGTERM)
			if code := g.Wait(t, 20*time.Second); code != 0 {
				t.Fatalf("gantry exited %d", code)
			}
			var lines []string
			for _, l := range strings.Split(g.Stderr.String(), "\n") {
				if strings.Contains(l, "msg=access") {
					lines = append(lines, l)
				}
			}
			switch {
			case on && len(lines) == 0:
				t.Fatalf("no access log line by default; stderr:\n%s", g.Stderr.String())
			case on:
				for _, want := range []string{"application=app", "deployment=d", "replica=app#d#", "path=/id", "status=200", "request_id=", "trace_id="} {
					if !strings.Contains(lines[len(lines)-1], want) {
						t.Errorf("access log line %q has no %s", lines[len(lines)-1], want)
					}
				}
			case len(lines) > 0:
				t.Errorf("--access-log=false still logged: %q", lines)
			}
		})
	}
}

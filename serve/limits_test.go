package serve_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/serve/servetest"
)

// The limits on one client are Gantry's: Ray's REST API, which Ray's own
// CLI reads with a strict schema, does not show them even when they are
// set.
func TestRayAPIDoesNotShowGantrysLimits(t *testing.T) {
	srv, _ := servetest.GatewayWith(t, `
http_options: {read_header_timeout_s: 5, min_body_rate_bytes_per_s: 10, min_response_rate_bytes_per_s: 10,
  slow_client_grace_s: 3, max_infer_body_bytes: 4096, max_connections: 100}
grpc_options: {max_receive_message_bytes: 4096, max_concurrent_streams: 10, max_connections: 100}
applications:
- name: app
  deployments:
  - name: d
    replica: {command: [TESTREPLICA]}
`)
	var v map[string]json.RawMessage
	body := servetest.GetBody(t, "http://"+srv.DashboardAddr()+"/api/serve/applications/")
	if err := json.Unmarshal([]byte(body), &v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	for opts, want := range map[string][]string{
		"http_options": {"host", "keep_alive_timeout_s", "port", "request_timeout_s", "root_path"},
		"grpc_options": {"grpc_servicer_functions", "port"},
	} {
		var o map[string]any
		if err := json.Unmarshal(v[opts], &o); err != nil {
			t.Fatalf("%s: %v", opts, err)
		}
		if got := slices.Sorted(maps.Keys(o)); !slices.Equal(got, want) {
			t.Errorf("%s has keys %v, want exactly Ray's %v", opts, got, want)
		}
	}
}

// A flood of connections on the HTTP port of a gateway whose open-file
// limit is small (300) does not take the descriptors the admin listener
// and /-/healthz need: the ports' caps are lowered to fit the limit. The
// gateway is the gantry binary, run under `ulimit -n 300`.
func TestConnectionFloodLeavesRoomUnderTheOpenFileLimit(t *testing.T) {
	ports := testenv.FreePorts(t, 3)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "serve.yaml")
	// read_header_timeout_s is long so that, without the caps, the flood
	// would hold its descriptors for the whole test.
	os.WriteFile(cfg, []byte(servetest.WithTestReplica(fmt.Sprintf(`
http_options: {port: %d, read_header_timeout_s: 60}
grpc_options: {port: %d}
dashboard: {port: %d}
applications:
- name: app
  deployments:
  - name: d
    replica: {command: [TESTREPLICA]}
`, ports[0], ports[1], ports[2]))), 0o644)
	cmd := exec.Command("sh", "-c", `ulimit -n 300 && exec "$0" serve "$1" --state-dir "$2"`,
		filepath.Join(servetest.BinDir, "gantry"), cfg, filepath.Join(dir, "state"))
	var logs testenv.SyncBuffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
		if t.Failed() {
			t.Logf("gateway log:\n%s", logs.String())
		}
	})
	ingressURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	adminURL := fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	servetest.WaitRoute(t, ingressURL+"/id")
	if !strings.Contains(logs.String(), "connection limits lowered to fit the open-file limit") {
		t.Errorf("no warning that the connection limits were lowered:\n%s", logs.String())
	}

	var flood []net.Conn
	defer func() {
		for _, c := range flood {
			c.Close()
		}
	}()
	for range 400 {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", ports[0]))
		if err != nil {
			break // the kernel's backlog is full: flooded
		}
		flood = append(flood, c)
	}
	// Fewer would not use up the 300 descriptors without the caps: the
	// test would pass with none.
	if len(flood) <= 300 {
		t.Fatalf("only %d flood connections were dialled; want more than the open-file limit (300)", len(flood))
	}
	for _, url := range []string{adminURL + "/api/gantry/applications", adminURL + "/metrics", ingressURL + "/-/healthz"} {
		testenv.WaitFor(t, 8*time.Second, url+" to answer during the flood", func() bool {
			code, _, err := testenv.TryGet(url)
			return err == nil && code == http.StatusOK
		})
	}
}

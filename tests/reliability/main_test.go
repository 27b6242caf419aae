package reliability

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// binDir holds the gantry and testreplica binaries, built once.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(testenv.RunWithBinaries(m, &binDir, "gantry.dev/gantry/cmd/gantry",
		"gantry.dev/gantry/internal/testreplica", "gantry.dev/gantry/internal/testgrpcreplica"))
}

func testreplicaPath() string { return filepath.Join(binDir, "testreplica") }

// gateway is one `gantry serve` child process and where it listens.
type gateway struct {
	*testenv.Proc
	addr         string // 127.0.0.1:port of the data plane
	url          string // http://addr
	grpcAddr     string // 127.0.0.1:port of the gRPC ingress
	dashboardURL string // http://127.0.0.1:port of the admin listener
}

// unknownFieldRE finds the config loader's "PATH: unknown field" lines.
var unknownFieldRE = regexp.MustCompile(`(?m)^(\S+): unknown field`)

// startGateway runs `gantry serve` with config (YAML; TESTREPLICA and
// TESTGRPCREPLICA stand for the test replicas' paths) on free ports, and waits until its admin
// listener answers. A config field this build does not know skips the
// test, naming the field: the limit it configures is not implemented yet.
// The process is killed when the test ends; its output is logged if the
// test failed.
func startGateway(t *testing.T, config string) *gateway {
	t.Helper()
	path := filepath.Join(t.TempDir(), "serve.yaml")
	config = strings.ReplaceAll(config, "TESTREPLICA", strconv.Quote(testreplicaPath()))
	config = strings.ReplaceAll(config, "TESTGRPCREPLICA", strconv.Quote(filepath.Join(binDir, "testgrpcreplica")))
	if err := os.WriteFile(path, []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ports := testenv.FreePorts(t, 3)
	g := &gateway{
		Proc: testenv.StartProc(t, exec.Command(filepath.Join(binDir, "gantry"), "serve", path,
			"--http-port", strconv.Itoa(ports[0]), "--dashboard-port", strconv.Itoa(ports[1]),
			"--grpc-port", strconv.Itoa(ports[2]), "--state-dir", t.TempDir()), "config:\n"+config),
		addr:         "127.0.0.1:" + strconv.Itoa(ports[0]),
		grpcAddr:     "127.0.0.1:" + strconv.Itoa(ports[2]),
		dashboardURL: "http://127.0.0.1:" + strconv.Itoa(ports[1]),
	}
	g.url = "http://" + g.addr
	g.until(t, 30*time.Second, "the admin listener to answer", func() bool {
		code, _, err := testenv.TryGet(g.dashboardURL + "/-/healthz")
		return err == nil && code == 200
	})
	return g
}

// until polls cond until it holds, failing the test if within passes first
// or if the gateway exits meanwhile. A gateway that exits because its
// config has a field this build lacks skips the test instead.
func (g *gateway) until(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	switch {
	case g.Until(within, cond):
	case g.Exited():
		if m := unknownFieldRE.FindAllStringSubmatch(g.Stderr.String(), -1); m != nil {
			var fields []string
			for _, f := range m {
				fields = append(fields, f[1])
			}
			t.Skipf("this build has no %s yet; the attack needs it", strings.Join(fields, ", "))
		}
		t.Fatalf("gantry exited (code %d) while waiting for %s\n%s", g.Cmd.ProcessState.ExitCode(), what, g.Stderr)
	default:
		t.Fatalf("timed out after %v waiting for %s", within, what)
	}
}

// pid is the gateway's process id.
func (g *gateway) pid() int { return g.Cmd.Process.Pid }

// kill ends the gateway with sig and waits until it has exited.
func (g *gateway) kill(t *testing.T, sig syscall.Signal) {
	t.Helper()
	g.Signal(t, sig)
	g.Wait(t, 30*time.Second)
}

// replica is one replica as /api/gantry/applications shows it.
type replica struct {
	ID    string `json:"replica_id"`
	PID   *int   `json:"pid"`
	State string `json:"state"`
}

// applications is the part of /api/gantry/applications the tests read.
type applications struct {
	Applications map[string]struct {
		Status      string `json:"status"`
		Deployments map[string]struct {
			Status   string    `json:"status"`
			Message  string    `json:"message"`
			Replicas []replica `json:"replicas"`
		} `json:"deployments"`
	} `json:"applications"`
}

// status reads /api/gantry/applications; the zero value while the gateway
// does not answer.
func (g *gateway) status(t *testing.T) applications {
	t.Helper()
	var v applications
	code, body, err := testenv.TryGet(g.dashboardURL + "/api/gantry/applications")
	if err != nil || code != 200 {
		return v
	}
	if err := json.Unmarshal(body, &v); err != nil {
		t.Fatalf("GET /api/gantry/applications: %v\n%s", err, body)
	}
	return v
}

// running returns the pids of the RUNNING replicas of app/dep.
func (g *gateway) running(t *testing.T, app, dep string) []int {
	t.Helper()
	var pids []int
	for _, r := range g.status(t).Applications[app].Deployments[dep].Replicas {
		if r.State == "RUNNING" && r.PID != nil {
			pids = append(pids, *r.PID)
		}
	}
	return pids
}

// waitRunning waits until app/dep has n RUNNING replicas and its route
// answers GET path with 200.
func (g *gateway) waitRunning(t *testing.T, app, dep string, n int, path string) {
	t.Helper()
	g.until(t, 60*time.Second, strconv.Itoa(n)+" RUNNING replicas of "+app+"/"+dep, func() bool {
		return len(g.running(t, app, dep)) == n
	})
	g.until(t, 30*time.Second, "GET "+path+" to answer 200", func() bool {
		code, _, err := testenv.TryGet(g.url + path)
		return err == nil && code == 200
	})
}

// metricSum returns the sum of metric name's samples in the gateway's
// /metrics whose labels include want, and whether any sample was there.
func (g *gateway) metricSum(t *testing.T, name string, want map[string]string) (float64, bool) {
	t.Helper()
	code, body, err := testenv.TryGet(g.dashboardURL + "/metrics")
	if err != nil || code != 200 {
		t.Fatalf("GET /metrics: %d %v", code, err)
	}
	sum, found := 0.0, false
	for _, s := range testenv.Samples(string(body), name, want) {
		sum, found = sum+s.Value, true
	}
	return sum, found
}

// breakerTrips is how often the breakers of app's replicas have opened.
// The counter is there from the deployment's start, so a missing one
// fails the test rather than reading as zero.
func (g *gateway) breakerTrips(t *testing.T, app string) float64 {
	t.Helper()
	n, ok := g.metricSum(t, "gantry_breaker_trips_total", map[string]string{"application": app})
	if !ok {
		t.Fatalf("/metrics has no gantry_breaker_trips_total for application %s", app)
	}
	return n
}

// memory reads the gateway's resident set (VmRSS) and its peak (VmHWM),
// in bytes.
func (g *gateway) memory(t *testing.T) (rss, peak int64) {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(g.pid()) + "/status")
	if err != nil {
		t.Fatalf("reading the gateway's /proc status: %v", err)
	}
	field := func(name string) int64 {
		for line := range strings.SplitSeq(string(status), "\n") {
			if v, ok := strings.CutPrefix(line, name+":"); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
				if err != nil {
					t.Fatalf("%s %q: %v", name, v, err)
				}
				return kb << 10
			}
		}
		t.Fatalf("no %s in /proc/%d/status", name, g.pid())
		return 0
	}
	return field("VmRSS"), field("VmHWM")
}

// accessLogged counts the gateway's access log lines for requests to path
// answered with status.
func (g *gateway) accessLogged(path string, status int) int {
	n := 0
	for line := range strings.SplitSeq(g.Stderr.String(), "\n") {
		if strings.Contains(line, "msg=access ") && strings.Contains(line, " path="+path+" ") &&
			strings.Contains(line, " status="+strconv.Itoa(status)+" ") {
			n++
		}
	}
	return n
}

// openFDs counts the gateway's open file descriptors.
func (g *gateway) openFDs(t *testing.T) int {
	t.Helper()
	entries, err := os.ReadDir("/proc/" + strconv.Itoa(g.pid()) + "/fd")
	if err != nil {
		t.Fatalf("reading the gateway's fds: %v", err)
	}
	return len(entries)
}

// twoReplicas is the deployment every attack aims at: app/d at /app, two
// test replicas of two slots each, so four stuck requests would fill it.
// httpOptions and grpcOptions are YAML lines (indented two spaces) added
// to the config's http_options and grpc_options.
func twoReplicas(httpOptions, grpcOptions string) string {
	return `
http_options:
  request_timeout_s: 30
` + httpOptions + `
grpc_options:
  request_timeout_s: 30
` + grpcOptions + `
applications:
- name: app
  route_prefix: /app
  deployments:
  - name: d
    num_replicas: 2
    max_ongoing_requests: 2
    graceful_shutdown_timeout_s: 2
    replica:
      command: [TESTREPLICA]
`
}

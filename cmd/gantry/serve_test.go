package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"image"
	"image/png"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// testreplicaConfig is a config with one application "app" at / whose
// deployment "d" runs the test replica, which records its pid in pidDir.
func testreplicaConfig(t *testing.T, pidDir string, numReplicas int) string {
	t.Helper()
	return writeConfig(t, `
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    num_replicas: `+strconv.Itoa(numReplicas)+`
    graceful_shutdown_timeout_s: 10
    replica:
      command: [`+strconv.Quote(testreplicaPath())+`]
      env: {TESTREPLICA_PID_DIR: `+strconv.Quote(pidDir)+`}
`)
}

// replicaPIDs returns the pids the test replicas recorded in dir.
func replicaPIDs(t *testing.T, dir string) []int {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			t.Fatalf("unexpected file %s in the pid directory", e.Name())
		}
		pids = append(pids, pid)
	}
	return pids
}

// alive returns the pids that are still running.
func alive(pids []int) []int {
	var out []int
	for _, pid := range pids {
		if testenv.Alive(pid) {
			out = append(out, pid)
		}
	}
	return out
}

// newPIDDir returns a directory for TESTREPLICA_PID_DIR. When the test ends
// (after gantry is killed), any test replica it lists that is still running
// is killed, so a failing test leaves nothing behind.
func newPIDDir(t *testing.T) string {
	dir := t.TempDir()
	t.Cleanup(func() {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			pid, err := strconv.Atoi(e.Name())
			if err != nil || !testenv.Alive(pid) {
				continue
			}
			// Only our own replica: the pid may have been reused.
			if cmdline, _ := os.ReadFile("/proc/" + e.Name() + "/cmdline"); bytes.Contains(cmdline, []byte("testreplica")) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	})
	return dir
}

// replicaID asks the test replica behind the gateway who it is.
func replicaID(t *testing.T, url string) (id string, pid int) {
	t.Helper()
	code, body, err := testenv.TryGet(url + "/id")
	if err != nil || code != 200 {
		t.Fatalf("GET /id: %d %q %v", code, body, err)
	}
	var v struct {
		ID  string `json:"id"`
		PID int    `json:"pid"`
	}
	if err := json.Unmarshal(body, &v); err != nil || v.ID == "" || v.PID == 0 {
		t.Fatalf("GET /id: %q (%v)", body, err)
	}
	return v.ID, v.PID
}

// TestSIGTERMFinishesTheSlowRequestAndStopsReplicas checks the graceful
// shutdown of the real process: a request in flight when SIGTERM arrives
// completes, new connections are refused, gantry exits 0 and its replica is
// gone. It also checks the dashboard's metrics on the way.
func TestSIGTERMFinishesTheSlowRequestAndStopsReplicas(t *testing.T) {
	pidDir := newPIDDir(t)
	g := startGateway(t, testreplicaConfig(t, pidDir, 1))
	g.until(t, 30*time.Second, "GET /id to answer 200", func() bool {
		code, _, err := testenv.TryGet(g.url + "/id")
		return err == nil && code == 200
	})
	id, pid := replicaID(t, g.url)
	if pids := replicaPIDs(t, pidDir); !reflect.DeepEqual(pids, []int{pid}) {
		t.Fatalf("replica pids %v, want just the one answering, %d", pids, pid)
	}

	// Metrics after some traffic: two answered requests, one RUNNING replica.
	labels := map[string]string{"application": "app", "deployment": "d"}
	ok200 := map[string]string{"application": "app", "deployment": "d", "code": "200"}
	running := map[string]string{"application": "app", "deployment": "d", "state": "RUNNING"}
	var text string
	g.until(t, 10*time.Second, "gantry_requests_total and gantry_replicas in /metrics", func() bool {
		text = g.metrics()
		return metricIs(text, "gantry_requests_total", ok200, func(v float64) bool { return v >= 2 }) &&
			metricIs(text, "gantry_replicas", running, func(v float64) bool { return v == 1 })
	})

	type result struct {
		code int
		body string
		err  error
		at   time.Time
	}
	slow := make(chan result, 1)
	var slowDone atomic.Bool
	go func() {
		var r result
		r.code, r.body, r.err = func() (int, string, error) {
			code, body, err := testenv.TryGet(g.url + "/slow?ms=2000")
			return code, string(body), err
		}()
		r.at = time.Now()
		slowDone.Store(true)
		slow <- r
	}()
	g.until(t, 10*time.Second, "the slow request to be in flight (gantry_replica_ongoing_requests 1)", func() bool {
		if slowDone.Load() {
			return true // reported below
		}
		text = g.metrics()
		return metricIs(text, "gantry_replica_ongoing_requests", labels, func(v float64) bool { return v == 1 })
	})
	if slowDone.Load() {
		r := <-slow
		t.Fatalf("the slow request ended before it was seen in flight: %d %q %v", r.code, r.body, r.err)
	}
	if s := testenv.Samples(text, "gantry_replica_ongoing_requests", labels); s[0].Labels["replica"] != id {
		t.Errorf("ongoing requests counted for replica %q, want %q", s[0].Labels["replica"], id)
	}

	g.Signal(t, syscall.SIGTERM)

	// New connections are refused while the slow request finishes.
	var refusedAt time.Time
	var lastProbe string
	if !testenv.Eventually(10*time.Second, func() bool {
		code, body, err := testenv.TryGet(g.url + "/id")
		if errors.Is(err, syscall.ECONNREFUSED) {
			refusedAt = time.Now()
			return true
		}
		lastProbe = strconv.Itoa(code) + " " + string(body)
		if err != nil {
			lastProbe = err.Error()
		}
		return false
	}) {
		t.Errorf("a new connection after SIGTERM was never refused; last probe: %s", lastProbe)
	}

	select {
	case r := <-slow:
		if r.err != nil || r.code != 200 || r.body != id {
			t.Errorf("slow request in flight at SIGTERM: %d %q %v; want 200 %q", r.code, r.body, r.err, id)
		} else if !refusedAt.IsZero() && !refusedAt.Before(r.at) {
			t.Errorf("new connections were accepted until the slow request had finished (refused %v after it)", refusedAt.Sub(r.at))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the slow request never finished")
	}
	if code := g.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("gantry exited with code %d after SIGTERM, want 0", code)
	}
	if pids := alive(replicaPIDs(t, pidDir)); len(pids) > 0 {
		t.Fatalf("replicas %v still running after gantry exited", pids)
	}
	// Stopped, not killed: the replica saw SIGTERM and returned from Serve.
	logs, _ := filepath.Glob(filepath.Join(g.stateDir, "logs", "app", "*.log"))
	if len(logs) != 1 {
		t.Fatalf("replica logs %v, want 1", logs)
	}
	if b, err := os.ReadFile(logs[0]); err != nil || !strings.Contains(string(b), "testreplica: clean exit") {
		t.Errorf("the replica did not exit cleanly; its log %s:\n%s", logs[0], b)
	}
}

// TestSIGKILLLeavesNoReplica checks that replicas die with the gateway even
// when it cannot clean up.
func TestSIGKILLLeavesNoReplica(t *testing.T) {
	pidDir := newPIDDir(t)
	g := startGateway(t, testreplicaConfig(t, pidDir, 3))
	g.until(t, 30*time.Second, "3 replicas to record their pids", func() bool {
		return len(replicaPIDs(t, pidDir)) == 3
	})
	running := map[string]string{"application": "app", "deployment": "d", "state": "RUNNING"}
	g.until(t, 30*time.Second, "3 RUNNING replicas and GET /id answering 200", func() bool {
		code, _, err := testenv.TryGet(g.url + "/id")
		return err == nil && code == 200 &&
			metricIs(g.metrics(), "gantry_replicas", running, func(v float64) bool { return v == 3 })
	})
	if pids := alive(replicaPIDs(t, pidDir)); len(pids) != 3 {
		t.Fatalf("%d replicas alive before the kill (%v), want 3", len(pids), pids)
	}

	g.Signal(t, syscall.SIGKILL)
	if code := g.Wait(t, 10*time.Second); code != -1 {
		t.Fatalf("gantry exit code %d after SIGKILL, want -1 (killed by a signal)", code)
	}
	pids := replicaPIDs(t, pidDir)
	if !testenv.Eventually(10*time.Second, func() bool { return len(alive(pids)) == 0 }) {
		t.Fatalf("replicas %v still running 10 s after gantry was killed", alive(pids))
	}
}

// imagineResult is one answer of /imagine.
type imagineResult struct {
	code        int
	contentType string
	body        []byte
}

func doImagine(t *testing.T, req *http.Request) imagineResult {
	t.Helper()
	c := &http.Client{Timeout: 60 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return imagineResult{resp.StatusCode, resp.Header.Get("Content-Type"), body}
}

func postImagine(t *testing.T, url, body string) imagineResult {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/imagine", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return doImagine(t, req)
}

// decodePNG checks that r is a 200 PNG and decodes it.
func decodePNG(t *testing.T, what string, r imagineResult) image.Image {
	t.Helper()
	if r.code != 200 || r.contentType != "image/png" {
		t.Fatalf("%s: %d %s %.300q; want 200 image/png", what, r.code, r.contentType, r.body)
	}
	img, err := png.Decode(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("%s: not a PNG: %v", what, err)
	}
	return img
}

// TestREADMEExample runs the Stable Diffusion example as the README says,
// paints with curl-like requests and with `gantry imagine`, then stops it.
func TestREADMEExample(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	g := startGateway(t, filepath.Join(root, "examples", "stable-diffusion", "serve.yaml"))
	g.until(t, 30*time.Second, "/-/routes to list / -> stable_diffusion", func() bool {
		code, body, err := testenv.TryGet(g.url + "/-/routes")
		var routes map[string]string
		return err == nil && code == 200 && json.Unmarshal(body, &routes) == nil &&
			reflect.DeepEqual(routes, map[string]string{"/": "stable_diffusion"})
	})
	g.until(t, 30*time.Second, "POST /imagine to answer 200", func() bool {
		c := &http.Client{Timeout: 30 * time.Second}
		resp, err := c.Post(g.url+"/imagine", "application/json", strings.NewReader(`{"prompt":"warm up","steps":1,"img_size":64}`))
		if err != nil {
			return false
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode == 200
	})

	lighthouse := `{"prompt":"a lighthouse at sunset","seed":7}`
	first := postImagine(t, g.url, lighthouse)
	img := decodePNG(t, "POST lighthouse", first)
	if b := img.Bounds(); b.Dx() != 512 || b.Dy() != 512 {
		t.Fatalf("lighthouse is %dx%d, want 512x512", b.Dx(), b.Dy())
	}
	second := postImagine(t, g.url, lighthouse)
	decodePNG(t, "POST lighthouse again", second)
	if !bytes.Equal(first.body, second.body) {
		t.Errorf("the same prompt and seed gave different images (%d and %d bytes)", len(first.body), len(second.body))
	}
	other := postImagine(t, g.url, `{"prompt":"a red fox in the snow","seed":7}`)
	decodePNG(t, "POST fox", other)
	if bytes.Equal(first.body, other.body) {
		t.Errorf("different prompts gave the same image")
	}
	req, err := http.NewRequest(http.MethodGet, g.url+"/imagine?prompt=a%20red%20fox&steps=5", nil)
	if err != nil {
		t.Fatal(err)
	}
	decodePNG(t, "GET /imagine?prompt=a%20red%20fox&steps=5", doImagine(t, req))

	// Metrics after the traffic above (the warm-up included).
	ok200 := map[string]string{"application": "stable_diffusion", "deployment": "painter", "code": "200"}
	running := map[string]string{"application": "stable_diffusion", "deployment": "painter", "state": "RUNNING"}
	g.until(t, 10*time.Second, "gantry_requests_total >= 5 and 2 RUNNING replicas in /metrics", func() bool {
		text := g.metrics()
		return metricIs(text, "gantry_requests_total", ok200, func(v float64) bool { return v >= 5 }) &&
			metricIs(text, "gantry_replicas", running, func(v float64) bool { return v == 2 })
	})

	// gantry imagine -n 4 tiles 4 images of the default size in 2 rows.
	grid := filepath.Join(t.TempDir(), "grid.png")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, gantryPath(), "imagine", "--url", g.url, "-n", "4", "--out", grid)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("gantry imagine: %v\n%s", err, out)
	}
	f, err := os.Open(grid)
	if err != nil {
		t.Fatalf("gantry imagine wrote no grid: %v\n%s", err, out)
	}
	gridImg, err := png.Decode(f)
	f.Close()
	if err != nil {
		t.Fatalf("%s: %v", grid, err)
	}
	if gb, ib := gridImg.Bounds(), img.Bounds(); gb.Dx() != 2*ib.Dx() || gb.Dy() != 2*ib.Dy() {
		t.Errorf("grid of 4 is %dx%d, want %dx%d\n%s", gb.Dx(), gb.Dy(), 2*ib.Dx(), 2*ib.Dy(), out)
	}

	// The painter replicas are gantry processes; their pids are in the log.
	var pids []int
	for _, m := range regexp.MustCompile(`msg="replica started".* pid=(\d+)`).FindAllStringSubmatch(g.Stderr.String(), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	if len(pids) != 2 {
		t.Errorf("found %d painter pids in the log, want 2", len(pids))
	}
	g.Signal(t, syscall.SIGTERM)
	if code := g.Wait(t, 30*time.Second); code != 0 {
		t.Fatalf("gantry exited with code %d after SIGTERM, want 0", code)
	}
	if left := alive(pids); len(left) > 0 {
		t.Fatalf("painter replicas %v still running after gantry exited", left)
	}
}

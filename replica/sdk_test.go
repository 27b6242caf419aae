package replica

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

type served struct {
	url  string
	done chan error
}

// startServe runs Serve on a free loopback port and waits until it listens.
func startServe(t *testing.T, ctx context.Context, h http.Handler, opts ServeOptions) served {
	t.Helper()
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	opts.Logger = slog.New(slog.DiscardHandler)
	addrs := make(chan net.Addr, 1)
	opts.Ready = func(a net.Addr) { addrs <- a }
	s := served{done: make(chan error, 1)}
	go func() { s.done <- Serve(ctx, h, opts) }()
	select {
	case a := <-addrs:
		s.url = "http://" + a.String()
	case err := <-s.done:
		t.Fatalf("Serve returned before listening: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not start listening")
	}
	return s
}

func (s served) wait(t *testing.T) error {
	t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return")
		return nil
	}
}

func do(t *testing.T, method, url, body string) (int, http.Header, string) {
	t.Helper()
	r := testenv.Call(t, method, url, body)
	return r.Code, r.Header, r.Body
}

func helloFunc(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "hello "+r.Method+" "+r.URL.Path)
}

func TestServeHealthAndPassThrough(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var mu sync.Mutex
	healthy := true
	s := startServe(t, ctx, http.HandlerFunc(helloFunc), ServeOptions{Healthy: func() bool {
		mu.Lock()
		defer mu.Unlock()
		return healthy
	}})

	if code, _, body := do(t, "GET", s.url+HealthPath, ""); code != 200 || body != "ok" {
		t.Errorf("healthz = %d %q, want 200 \"ok\"", code, body)
	}
	if code, _, _ := do(t, "HEAD", s.url+HealthPath, ""); code != 200 {
		t.Errorf("HEAD healthz = %d, want 200", code)
	}
	if code, h, _ := do(t, "POST", s.url+HealthPath, ""); code != 405 || h.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST healthz = %d Allow %q, want 405 \"GET, HEAD\"", code, h.Get("Allow"))
	}
	mu.Lock()
	healthy = false
	mu.Unlock()
	if code, _, _ := do(t, "GET", s.url+HealthPath, ""); code != 503 {
		t.Errorf("unhealthy healthz = %d, want 503", code)
	}
	if code, _, body := do(t, "POST", s.url+"/imagine", "x"); code != 200 || body != "hello POST /imagine" {
		t.Errorf("pass-through = %d %q", code, body)
	}
	cancel()
	if err := s.wait(t); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestServeReconfigure(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		mu  sync.Mutex
		got []string
	)
	s := startServe(t, ctx, http.HandlerFunc(helloFunc), ServeOptions{Reconfigure: func(raw json.RawMessage) error {
		mu.Lock()
		got = append(got, string(raw))
		mu.Unlock()
		var cfg struct {
			Steps int `json:"steps"`
		}
		if err := json.Unmarshal(raw, &cfg); err != nil {
			return err
		}
		if cfg.Steps < 0 {
			return errors.New("steps must not be negative")
		}
		return nil
	}})

	tests := []struct {
		method, body string
		code         int
		want         string
	}{
		{"POST", `{"steps": 5}`, 200, "ok"},
		{"POST", ``, 200, "ok"},
		{"POST", `{"steps": -1}`, 400, "steps must not be negative"},
		{"POST", `{"steps":`, 400, "not valid JSON"},
		{"GET", ``, 405, "use POST"},
	}
	for _, tc := range tests {
		code, _, body := do(t, tc.method, s.url+ReconfigurePath, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("%s %q: got %d %q, want %d containing %q", tc.method, tc.body, code, body, tc.code, tc.want)
		}
	}
	want := []string{`{"steps": 5}`, `null`, `{"steps": -1}`}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("Reconfigure saw %q, want %q", got, want)
	}
	if code, _, body := do(t, "POST", s.url+ReconfigurePath, strings.Repeat(" ", maxReconfigureBytes+1)); code != 413 {
		t.Errorf("huge body = %d %q, want 413", code, body)
	}
}

func TestServeReconfigureUnsupported(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s := startServe(t, ctx, http.HandlerFunc(helloFunc), ServeOptions{})
	if code, _, body := do(t, "POST", s.url+ReconfigurePath, `{}`); code != 501 || !strings.Contains(body, "user_config") {
		t.Errorf("reconfigure without Reconfigure = %d %q, want 501", code, body)
	}
}

// TestServeDrains checks that a cancelled Serve stops accepting connections
// but lets the request in flight finish.
func TestServeDrains(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started, release := make(chan struct{}), make(chan struct{})
	slow := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "finished")
	})
	s := startServe(t, ctx, slow, ServeOptions{})

	type result struct {
		code int
		body string
		err  error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Get(s.url + "/work")
		if err != nil {
			inflight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		inflight <- result{resp.StatusCode, string(b), err}
	}()
	<-started
	cancel()

	// The listener closes promptly; Serve keeps waiting for the request.
	testenv.WaitFor(t, 5*time.Second, "the listener to stop accepting after cancel", func() bool {
		c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.url, "http://"), time.Second)
		if err != nil {
			return true
		}
		c.Close()
		return false
	})
	select {
	case err := <-s.done:
		t.Fatalf("Serve returned %v with a request in flight", err)
	case <-time.After(100 * time.Millisecond):
	}
	close(release)
	if r := <-inflight; r.err != nil || r.code != 200 || r.body != "finished" {
		t.Errorf("in-flight request = %d %q %v, want 200 \"finished\"", r.code, r.body, r.err)
	}
	if err := s.wait(t); err != nil {
		t.Errorf("Serve = %v, want nil", err)
	}
}

func TestServeShutdownTimeout(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	started := make(chan struct{})
	stuck := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-r.Context().Done() // until Serve gives up and closes the connection
	})
	s := startServe(t, ctx, stuck, ServeOptions{ShutdownTimeout: 100 * time.Millisecond})
	go func() {
		if resp, err := http.Get(s.url + "/stuck"); err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	begin := time.Now()
	cancel()
	err := s.wait(t)
	if err == nil || !strings.Contains(err.Error(), "still running") {
		t.Errorf("Serve = %v, want a drain timeout error", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("Serve took %s to give up, want about 100ms", d)
	}
}

func TestServeSIGTERM(t *testing.T) {
	s := startServe(t, context.Background(), http.HandlerFunc(helloFunc), ServeOptions{})
	// Serve has registered for SIGTERM before Ready, so this is a drain.
	if err := syscall.Kill(syscall.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.wait(t); err != nil {
		t.Errorf("Serve after SIGTERM = %v, want nil", err)
	}
}

func TestServeUsesPORT(t *testing.T) {
	t.Setenv(EnvHost, "")
	servesOn(t, "127.0.0.1")
}

// On Kubernetes GANTRY_HOST is the pod IP; any loopback address stands in.
func TestServeUsesGANTRYHOST(t *testing.T) {
	t.Setenv(EnvHost, "127.0.0.2")
	servesOn(t, "127.0.0.2")
}

// servesOn checks that Serve without an Addr listens on host:$PORT.
func servesOn(t *testing.T, host string) {
	ports, err := testenv.FreePortsOn(host, 1)
	if err != nil {
		t.Fatal(err)
	}
	port := ports[0]
	t.Setenv(EnvPort, strconv.Itoa(port))

	ctx, cancel := context.WithCancel(context.Background())
	opts := ServeOptions{Logger: slog.New(slog.DiscardHandler)}
	addrs := make(chan net.Addr, 1)
	opts.Ready = func(a net.Addr) { addrs <- a }
	done := make(chan error, 1)
	go func() { done <- Serve(ctx, http.HandlerFunc(helloFunc), opts) }()
	select {
	case a := <-addrs:
		if want := host + ":" + strconv.Itoa(port); a.String() != want {
			t.Errorf("listening on %s, want %s", a, want)
		}
	case err := <-done:
		t.Fatalf("Serve: %v", err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Serve = %v", err)
	}
}

func TestServeErrors(t *testing.T) {
	t.Setenv(EnvPort, "")
	quiet := ServeOptions{Logger: slog.New(slog.DiscardHandler)}
	if err := Serve(context.Background(), http.HandlerFunc(helloFunc), quiet); err == nil || !strings.Contains(err.Error(), "PORT") {
		t.Errorf("Serve without an address = %v, want an error naming PORT", err)
	}
	if err := Serve(context.Background(), nil, quiet); err == nil {
		t.Error("Serve with a nil handler succeeded")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	busy := quiet
	busy.Addr = ln.Addr().String()
	if err := Serve(context.Background(), http.HandlerFunc(helloFunc), busy); err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("Serve on a busy port = %v, want a listen error", err)
	}
}

func TestFromEnv(t *testing.T) {
	t.Setenv(EnvPort, "8123")
	t.Setenv(EnvReplicaID, "stable_diffusion#painter#a1b2c3")
	t.Setenv(EnvDeployment, "painter")
	t.Setenv(EnvApplication, "stable_diffusion")
	t.Setenv(EnvUserConfig, ` {"default_steps": 20} `)
	e := FromEnv()
	want := Env{
		ReplicaID:   "stable_diffusion#painter#a1b2c3",
		Deployment:  "painter",
		Application: "stable_diffusion",
		UserConfig:  json.RawMessage(`{"default_steps": 20}`),
		Port:        8123,
	}
	if e.ReplicaID != want.ReplicaID || e.Deployment != want.Deployment || e.Application != want.Application ||
		string(e.UserConfig) != string(want.UserConfig) || e.Port != want.Port {
		t.Errorf("FromEnv = %+v, want %+v", e, want)
	}
	if e.Addr() != "127.0.0.1:8123" {
		t.Errorf("Addr = %q", e.Addr())
	}

	t.Setenv(EnvPort, "not-a-port")
	t.Setenv(EnvUserConfig, "")
	e = FromEnv()
	if e.Port != 0 || e.Addr() != "" || e.UserConfig != nil {
		t.Errorf("FromEnv with bad PORT and no user_config = %+v", e)
	}
}

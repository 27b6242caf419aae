package servetest

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/deploy/local"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/replica"
	"gantry.dev/gantry/serve"
	"go.uber.org/goleak"
)

// BinDir holds the replicas and gantry binary Main built.
var BinDir string

// Main is the whole of a TestMain of a package whose tests run gateways:
// os.Exit(servetest.Main(m)). It builds the test replicas and gantry.
//
// It then fails the package if a goroutine outlived its tests: a stopped
// gateway must leave nothing running.
func Main(m *testing.M) int {
	code := testenv.RunWithBinaries(m, &BinDir, "gantry.dev/gantry/internal/testreplica",
		"gantry.dev/gantry/internal/testgrpcreplica", "gantry.dev/gantry/cmd/gantry")
	if code != 0 {
		return code
	}
	if err := goleak.Find(); err != nil {
		fmt.Fprintf(os.Stderr, "goleak: goroutines outlived the tests: %v\n", err)
		return 1
	}
	return 0
}

// WithTestReplica puts the test replica's path where a config's command
// says [TESTREPLICA (and the gRPC test replica's for [TESTGRPCREPLICA,
// the gantry binary's for [GANTRY).
func WithTestReplica(yaml string) string {
	return strings.NewReplacer("[TESTREPLICA", "["+filepath.Join(BinDir, "testreplica"),
		"[TESTGRPCREPLICA", "["+filepath.Join(BinDir, "testgrpcreplica"),
		"[GANTRY", "["+filepath.Join(BinDir, "gantry")).Replace(yaml)
}

// Logger logs to stderr when GANTRY_TEST_LOG is set (debugging a test),
// else nowhere.
func Logger() *slog.Logger {
	if os.Getenv("GANTRY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	return slog.New(slog.DiscardHandler)
}

// GatewayWith starts a gateway on free ports with the config text (where
// TESTREPLICA stands for the test replica's path; "" for none) and
// returns its server and ingress URL.
func GatewayWith(t *testing.T, yaml string) (*serve.Server, string) {
	t.Helper()
	var cfg *config.Config
	if yaml != "" {
		var err error
		if cfg, err = config.Parse([]byte(WithTestReplica(yaml))); err != nil {
			t.Fatalf("config: %v", err)
		}
	}
	srv := Start(t, serve.Options{Config: cfg})
	return srv, "http://" + srv.HTTPAddr()
}

// Start runs a gateway with o (on free loopback ports and a local
// backend) until the test ends.
func Start(t *testing.T, o serve.Options) *serve.Server {
	t.Helper()
	backend := local.New(local.Options{StateDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { backend.Close() }) // after the gateway has stopped: cleanups run last first
	gw := New(t, o, deploy.Options{Backend: backend})
	Run(t, gw)
	return gw.Server
}

// New builds a gateway as cmd/gantry does (serve.NewGateway), on free
// loopback ports unless o names them.
func New(t *testing.T, o serve.Options, co deploy.Options) serve.Gateway {
	t.Helper()
	if o.HTTPAddr == "" {
		o.HTTPAddr = "127.0.0.1:0"
	}
	if o.DashboardAddr == "" {
		o.DashboardAddr = "127.0.0.1:0"
	}
	if o.GRPCAddr == "" {
		o.GRPCAddr = "127.0.0.1:0"
	}
	if o.Logger == nil {
		o.Logger = Logger()
	}
	if co.Logger == nil {
		co.Logger = o.Logger
	}
	gw, err := serve.NewGateway(o, co)
	if err != nil {
		t.Fatal(err)
	}
	return gw
}

// Run runs gw until the test ends (or stop is called) and expects a clean
// shutdown; stop waits for Run to return.
func Run(t *testing.T, gw serve.Gateway) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// RunningNow returns the RUNNING replicas of every deployment.
func RunningNow(srv *serve.Server) []deploy.ReplicaStatus {
	var got []deploy.ReplicaStatus
	for _, d := range srv.Controller().Status() {
		for _, r := range d.Replicas {
			if r.State == replica.Running {
				got = append(got, r)
			}
		}
	}
	return got
}

// Running waits until n replicas are RUNNING and returns them.
func Running(t *testing.T, srv *serve.Server, n int) []deploy.ReplicaStatus {
	t.Helper()
	var got []deploy.ReplicaStatus
	if !testenv.Eventually(30*time.Second, func() bool { got = RunningNow(srv); return len(got) == n }) {
		t.Fatalf("want %d RUNNING replicas, have %+v", n, srv.Controller().Status())
	}
	return got
}

// WaitRoute polls url until it answers 200.
func WaitRoute(t *testing.T, url string) {
	t.Helper()
	testenv.WaitFor(t, 30*time.Second, url+" to answer 200", func() bool {
		code, _, err := testenv.TryGet(url)
		return err == nil && code == http.StatusOK
	})
}

// Call sends one request (with the admin token, if any) and returns the
// status, headers and body.
func Call(t *testing.T, method, url, token, body string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	r := testenv.Do(t, req)
	return r.Code, r.Header, r.Body
}

// GetBody GETs url and returns its body, whatever the status.
func GetBody(t *testing.T, url string) string {
	t.Helper()
	_, body := testenv.Get(t, url)
	return body
}

// Apply applies cfg to the gateway's controller.
func Apply(t *testing.T, srv *serve.Server, cfg *config.Config) {
	t.Helper()
	if err := srv.Controller().Apply(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
}

// Events reads GET /api/gantry/events of the admin listener at dashboard.
func Events(t *testing.T, dashboard string) []deploy.Event {
	t.Helper()
	code, _, body := Call(t, http.MethodGet, dashboard+"/api/gantry/events", "", "")
	if code != http.StatusOK {
		t.Fatalf("GET /api/gantry/events: %d %s", code, body)
	}
	var evs []deploy.Event
	if err := json.Unmarshal([]byte(body), &evs); err != nil {
		t.Fatalf("events: %v in %s", err, body)
	}
	return evs
}

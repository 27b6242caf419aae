package serve_test

import (
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/deploy/local"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/servetest"
)

// Gateway.Run stops the ingress before the controller: requests waiting in
// the router's queue when the gateway is told to stop are still served by
// the replicas, because the replicas are drained only once the ingress has
// finished every request it accepted. (Stopping the controller with the
// rest leaves the queued requests waiting for a replica that never comes.)
func TestShutdownServesTheRequestsQueued(t *testing.T) {
	cfg, err := config.Parse([]byte(servetest.WithTestReplica(`
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    num_replicas: 1
    max_ongoing_requests: 1
    max_queued_requests: 10
    graceful_shutdown_timeout_s: 30
    replica: {command: [TESTREPLICA]}
`)))
	if err != nil {
		t.Fatal(err)
	}
	backend := local.New(local.Options{StateDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { backend.Close() })
	gw := servetest.New(t, serve.Options{Config: cfg}, deploy.Options{Backend: backend})
	stop := servetest.Run(t, gw)
	servetest.Running(t, gw.Server, 1)
	d, ok := gw.Router.Table().Application("app")
	if !ok {
		t.Fatal("no route for app")
	}

	const n = 3
	codes := make(chan int, n)
	for range n {
		go func() {
			resp, err := http.Get("http://" + gw.Server.HTTPAddr() + "/slow?ms=700")
			if err != nil {
				codes <- -1
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			codes <- resp.StatusCode
		}()
	}
	if !testenv.Eventually(10*time.Second, func() bool { return d.Queued() == n-1 }) {
		t.Fatalf("want 1 request on the replica and %d queued, have %d queued", n-1, d.Queued())
	}
	stopped := make(chan struct{})
	go func() { stop(); close(stopped) }() // as SIGTERM
	deadline := time.After(60 * time.Second)
	for range n {
		select {
		case code := <-codes:
			if code != http.StatusOK {
				t.Errorf("a request accepted before shutdown got %d, want 200", code)
			}
		case <-deadline:
			t.Fatal("the requests accepted before shutdown were not answered within 60 s")
		}
	}
	select {
	case <-stopped:
	case <-deadline:
		t.Fatal("the gateway did not stop within 60 s")
	}
}

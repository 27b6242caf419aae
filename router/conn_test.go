package router

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// countingUpstream is an upstream that counts the connections it accepts.
func countingUpstream(t *testing.T, h http.HandlerFunc, configure ...func(*http.Server)) (*Replica, *httptest.Server, *atomic.Int32) {
	t.Helper()
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(h)
	for _, f := range configure {
		f(srv.Config)
	}
	next := srv.Config.ConnState // one a configure func set
	srv.Config.ConnState = func(c net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
		if next != nil {
			next(c, s)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	r := NewReplica("r", srv.Listener.Addr().String(), ReplicaOptions{})
	t.Cleanup(r.Close)
	return r, srv, &conns
}

func TestPooledConnectionsAreReused(t *testing.T) {
	rep, _, conns := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") })
	d := NewDeployment("a", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{rep})
	url := gateway(t, d, "/")
	for range 50 {
		if code, body := testenv.Get(t, url+"/x"); code != 200 || body != "hi" {
			t.Fatalf("got %d %q", code, body)
		}
	}
	if n := conns.Load(); n != 1 {
		t.Fatalf("50 sequential requests used %d connections, want 1", n)
	}
}

func TestIdleConnectionClosedByTheReplicaIsNotUsed(t *testing.T) {
	var closed atomic.Int32
	rep, _, conns := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hi") },
		func(s *http.Server) {
			s.IdleTimeout = 20 * time.Millisecond // like uvicorn's 5 s keep-alive, only shorter
			s.ConnState = func(_ net.Conn, s http.ConnState) {
				if s == http.StateClosed {
					closed.Add(1)
				}
			}
		})
	// The pool's clock runs ahead by skew: the test moves the idle
	// connection past the stale check threshold without waiting for it.
	var skew atomic.Int64
	rep.conns.now = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	d := NewDeployment("a", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{rep})
	url := gateway(t, d, "/")
	if code, _ := testenv.Get(t, url+"/x"); code != 200 {
		t.Fatal(code)
	}
	testenv.WaitFor(t, 5*time.Second, "the replica to close the idle connection", func() bool { return closed.Load() == 1 })
	skew.Store(int64(staleCheckAfter + time.Millisecond))
	resp, err := http.Post(url+"/x", "text/plain", nil) // not retryable: must not hit the dead connection
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || conns.Load() != 2 {
		t.Fatalf("status %d with %d connections; want 200 on a fresh connection", resp.StatusCode, conns.Load())
	}
}

func TestBodilessResponsesAndConnectionClose(t *testing.T) {
	rep, _, conns := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/close":
			w.Header().Set("Connection", "close")
			io.WriteString(w, "bye")
		case "/early":
			w.WriteHeader(http.StatusEarlyHints)
			io.WriteString(w, "final")
		default:
			w.Header().Set("Content-Length", "5")
			io.WriteString(w, "hello")
		}
	})
	d := NewDeployment("a", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{rep})
	url := gateway(t, d, "/")

	if code, _ := testenv.Get(t, url+"/nocontent"); code != 204 {
		t.Errorf("204: got %d", code)
	}
	resp, err := http.Head(url + "/head")
	if err != nil || resp.StatusCode != 200 || resp.ContentLength != 5 {
		t.Fatalf("HEAD: %v %v", resp, err)
	}
	resp.Body.Close()
	if code, body := testenv.Get(t, url+"/early"); code != 200 || body != "final" {
		t.Errorf("after 103: got %d %q", code, body)
	}
	before := conns.Load()
	if code, body := testenv.Get(t, url+"/close"); code != 200 || body != "bye" {
		t.Errorf("close: got %d %q", code, body)
	}
	testenv.Get(t, url+"/again")
	if conns.Load() != before+1 {
		t.Errorf("a connection the replica closed was reused (%d connections, want %d)", conns.Load(), before+1)
	}
}

func TestClientGoneCancelsTheReplicaCall(t *testing.T) {
	cancelled := make(chan struct{})
	entered := make(chan struct{})
	rep, _, _ := countingUpstream(t, func(w http.ResponseWriter, r *http.Request) {
		close(entered)
		select {
		case <-r.Context().Done():
			close(cancelled)
		case <-time.After(10 * time.Second):
		}
	})
	d := NewDeployment("a", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{rep})
	url := gateway(t, d, "/")
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/slow", nil)
	go func() {
		<-entered
		cancel()
	}()
	if _, err := http.DefaultClient.Do(req); err == nil {
		t.Fatal("request succeeded after cancel")
	}
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("replica never saw the cancellation")
	}
	testenv.WaitFor(t, 5*time.Second, "the replica's in-flight count to fall to 0", func() bool { return rep.Inflight() == 0 })
}

package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// rawReplica is a replica on raw TCP, so that a test decides exactly when
// its keep-alive connections die: a connection it has condemned stays open
// until its next request arrives and then closes without a byte of answer.
// To the router such a connection looked alive when it was taken from the
// pool, and died before answering: the keep-alive race, made deterministic.
type rawReplica struct {
	ln    net.Listener
	gen   atomic.Int32  // connections accepted under an older generation are condemned
	seen  atomic.Int32  // requests read, answered or not
	hold  chan struct{} // closed when holdN requests are in
	holdN int32
	held  atomic.Int32
	mu    sync.Mutex
	open  []net.Conn
}

// newRawReplica starts one; with hold > 0 its first hold requests are
// answered only once all of them are in, so that each has a connection.
func newRawReplica(t *testing.T, hold int) *rawReplica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &rawReplica{ln: ln}
	if hold > 0 {
		r.hold = make(chan struct{})
		r.holdN = int32(hold)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			r.open = append(r.open, c)
			r.mu.Unlock()
			go r.serve(c, r.gen.Load())
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		r.mu.Lock()
		defer r.mu.Unlock()
		for _, c := range r.open {
			c.Close()
		}
	})
	return r
}

func (r *rawReplica) serve(c net.Conn, gen int32) {
	defer c.Close()
	br := bufio.NewReader(c)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		io.Copy(io.Discard, req.Body)
		r.seen.Add(1)
		if gen < r.gen.Load() {
			return // condemned: closed with the request unanswered
		}
		if r.hold != nil {
			if n := r.held.Add(1); n == r.holdN {
				close(r.hold)
			}
			<-r.hold
		}
		if _, err := io.WriteString(c, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nraw"); err != nil {
			return
		}
	}
}

// closeIdle condemns every connection open now, as an idle timeout firing
// while a request is on its way does; new connections are served.
func (r *rawReplica) closeIdle() { r.gen.Add(1) }

// kill is the process dying: it stops listening and every open connection
// dies at its next request.
func (r *rawReplica) kill() {
	r.ln.Close()
	r.gen.Add(1)
}

// An idempotent request sent on a pooled connection that the replica closed
// before answering goes again on a fresh connection to the same replica, as
// http.Transport does: the connection was stale, the replica did not fail,
// and no attempt of the budget is spent on it (MaxAttempts 1 here).
func TestRequestOnAStalePooledConnectionGoesAgainOnAFreshOne(t *testing.T) {
	raw := newRawReplica(t, 0)
	rep := NewReplica("raw", raw.ln.Addr().String(), ReplicaOptions{})
	t.Cleanup(rep.Close)
	d := NewDeployment("a", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1, MaxAttempts: 1}, nil)
	d.SetReplicas([]*Replica{rep})
	url := gateway(t, d, "/")
	if code, body := testenv.Get(t, url+"/x"); code != 200 || body != "raw" {
		t.Fatalf("got %d %q", code, body)
	}
	raw.closeIdle()
	if code, body := testenv.Get(t, url+"/x"); code != 200 || body != "raw" {
		t.Fatalf("GET on a stale pooled connection: got %d %q; want 200 from a fresh connection", code, body)
	}

	// A POST is not sent twice: the replica may have acted on it.
	raw.closeIdle()
	before := raw.seen.Load()
	resp, err := http.Post(url+"/x", "text/plain", strings.NewReader("charge card"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || raw.seen.Load()-before != 1 {
		t.Fatalf("POST on a stale pooled connection: status %d, sent %d times; want 502 after 1",
			resp.StatusCode, raw.seen.Load()-before)
	}
}

// The chaos test's failure: the only replica in the pool is killed with
// several idle connections pooled. Each retry used to take the next dead
// pooled connection to it and count as an attempt, so the request failed
// with 502 after MaxAttempts without ever reaching a live replica. Now the
// fresh connection is refused, the replica is marked down, and the retry
// waits for the replica that replaces it.
func TestKilledReplicaWithPooledConnectionsCostsOneAttempt(t *testing.T) {
	raw := newRawReplica(t, 3) // 3 connections in the pool once warmed up
	dead := NewReplica("dead", raw.ln.Addr().String(), ReplicaOptions{BreakerFailures: 100})
	t.Cleanup(dead.Close)
	good, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "good") })
	d := NewDeployment("a", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1, MaxAttempts: 3}, nil)
	d.SetReplicas([]*Replica{dead})
	url := gateway(t, d, "/")
	warm := []<-chan int{getAsync(url + "/x"), getAsync(url + "/x"), getAsync(url + "/x")}
	for _, c := range warm {
		if code := <-c; code != 200 {
			t.Fatalf("warm-up: %d", code)
		}
	}

	raw.kill()
	codes := getAsync(url + "/x")
	// The request must wait for a live replica, not answer at once.
	testenv.WaitFor(t, 5*time.Second, "the request to queue or be answered", func() bool { return d.Queued() == 1 || len(codes) == 1 })
	if len(codes) == 1 {
		t.Fatalf("status %d after %d attempts on the killed replica; want it to wait for a live one",
			<-codes, dead.Served()-3)
	}
	d.SetReplicas([]*Replica{good}) // the controller replaced the dead one
	if code := <-codes; code != 200 || dead.Served() != 4 {
		t.Fatalf("status %d after %d attempts on the killed replica; want 200 after 1", code, dead.Served()-3)
	}
}

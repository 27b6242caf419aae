package router

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// manualClock is a clock that moves only when Advance is called; it fires
// the AfterFunc timers that come due (in Advance's goroutine).
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*manualTimer
}

type manualTimer struct {
	at time.Time
	f  func()
}

func newManualClock() *manualClock { return &manualClock{now: time.Unix(1_800_000_000, 0)} }

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) AfterFunc(d time.Duration, f func()) func() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	tm := &manualTimer{at: c.now.Add(d), f: f}
	c.timers = append(c.timers, tm)
	return func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		n := len(c.timers)
		c.timers = slices.DeleteFunc(c.timers, func(x *manualTimer) bool { return x == tm })
		return len(c.timers) < n
	}
}

// Advance moves the clock by d and runs the timers that came due.
func (c *manualClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	var due []*manualTimer
	c.timers = slices.DeleteFunc(c.timers, func(x *manualTimer) bool {
		if x.at.After(c.now) {
			return false
		}
		due = append(due, x)
		return true
	})
	c.mu.Unlock()
	for _, x := range due {
		x.f()
	}
}

// answer is an HTTP answer read whole, or the error that stopped it.
type answer struct {
	code   int
	header http.Header
	body   string
	err    error
}

// getWithin sends GET url and gives up after within: well below the
// request_timeout_s of these tests, so a request left waiting fails the
// test instead of ending in a 504. It may run in any goroutine.
func getWithin(url string, within time.Duration) answer {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, header: resp.Header, body: string(b), err: err}
}

// A request that queued while its deployment's only replica was out of
// picking is served as soon as the replica is back, though no other
// request came, ended or changed the pool in between: the replica tells
// its deployment when its breaker's open period, or its refused mark,
// ends. The clock is manual, so "as soon as" is the moment it moves.
func TestQueuedRequestIsServedWhenTheReplicaComesBack(t *testing.T) {
	for _, tc := range []struct {
		name string
		out  func(*Replica)
		back time.Duration
	}{
		{"breaker open period over", func(r *Replica) { r.breaker.record(false) }, 2 * time.Second},
		{"refused mark over", func(r *Replica) { r.markRefused() }, refusedFor},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newManualClock()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "ok") }))
			t.Cleanup(srv.Close)
			rep := NewReplica("r", srv.Listener.Addr().String(), ReplicaOptions{
				BreakerFailures: 1, BreakerOpen: 2 * time.Second, Now: clk.Now, AfterFunc: clk.AfterFunc,
			})
			t.Cleanup(rep.Close)
			d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: -1, RequestTimeout: time.Minute}, nil)
			d.SetReplicas([]*Replica{rep})
			tc.out(rep)
			if rep.Available(1) {
				t.Fatal("the replica is still available")
			}
			url := gateway(t, d, "/")
			got := make(chan answer, 1)
			go func() { got <- getWithin(url+"/x", 5*time.Second) }()
			testenv.WaitFor(t, 5*time.Second, "the request queued", func() bool { return d.Queued() == 1 })

			clk.Advance(tc.back - time.Millisecond)
			if d.Queued() != 1 {
				t.Fatal("the request left the queue before the replica was back")
			}
			clk.Advance(time.Millisecond)
			a := <-got
			if a.err != nil || a.code != http.StatusOK || a.body != "ok" {
				t.Fatalf("queued request: %d %q %v; want 200 ok once the replica is back", a.code, a.body, a.err)
			}
		})
	}
}

// A replica closed (dropped by the controller) arms no timer any more and
// stops the one it had.
func TestClosedReplicaStopsItsTimer(t *testing.T) {
	clk := newManualClock()
	rep := NewReplica("r", testenv.FreeAddr(t), ReplicaOptions{Now: clk.Now, AfterFunc: clk.AfterFunc})
	rep.markRefused()
	rep.Close()
	rep.markRefused()
	clk.mu.Lock()
	defer clk.mu.Unlock()
	if n := len(clk.timers); n != 0 {
		t.Errorf("%d timers armed after Close", n)
	}
}

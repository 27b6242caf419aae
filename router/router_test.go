package router

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"gantry.dev/gantry/internal/testenv"
)

// gateway serves d at prefix on a real listener and returns its URL.
func gateway(t *testing.T, d *Deployment, prefix string) string {
	t.Helper()
	rt := New()
	rt.Publish(NewTable([]Route{{Prefix: prefix, Application: d.app, Deployment: d}}))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		route, ok := rt.Table().Match(r.URL.Path)
		if !ok {
			http.NotFound(w, r)
			return
		}
		route.Deployment.Forward(w, r, route.Prefix, r.Header.Get("X-Request-Id"))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func upstream(t *testing.T, h http.HandlerFunc) (*Replica, *httptest.Server) {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	r := NewReplica(srv.URL[len("http://"):], srv.Listener.Addr().String(), ReplicaOptions{})
	t.Cleanup(r.Close)
	return r, srv
}

func TestTableMatchesLongestPrefixOnPathBoundaries(t *testing.T) {
	a, b, root := &Deployment{name: "a"}, &Deployment{name: "b"}, &Deployment{name: "root"}
	tbl := NewTable([]Route{{Prefix: "/", Deployment: root}, {Prefix: "/api", Deployment: a}, {Prefix: "/api/v1", Deployment: b}})
	for path, want := range map[string]string{
		"/": "root", "/x": "root", "/api": "a", "/api/": "a", "/apix": "root", "/api/v1": "b", "/api/v1/y": "b", "/api/v10": "a",
	} {
		r, ok := tbl.Match(path)
		if !ok || r.Deployment.name != want {
			t.Errorf("Match(%q) = %v, %v; want %s", path, r.Deployment, ok, want)
		}
	}
	if _, ok := NewTable([]Route{{Prefix: "/api", Deployment: a}}).Match("/other"); ok {
		t.Error("Match(/other) matched /api")
	}
}

func TestForwardStripsPrefixAndSetsForwardingHeaders(t *testing.T) {
	var got *http.Request
	rep, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		got = r
		w.Header().Set("X-From", "replica")
		io.WriteString(w, "ok")
	})
	d := NewDeployment("app", "dep", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{rep})
	url := gateway(t, d, "/app")
	req, _ := http.NewRequest("GET", url+"/app/models/x?q=1", nil)
	req.Header.Set("Connection", "close, X-Hop")
	req.Header.Set("X-Hop", "secret")
	req.Header.Set("X-Request-Id", "abc")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "ok" || resp.Header.Get("X-From") != "replica" {
		t.Fatalf("got %d %q %v", resp.StatusCode, body, resp.Header)
	}
	if got.URL.Path != "/models/x" || got.URL.RawQuery != "q=1" {
		t.Errorf("replica saw %s?%s, want /models/x?q=1", got.URL.Path, got.URL.RawQuery)
	}
	if p := got.Header.Get("X-Forwarded-Prefix"); p != "/app" {
		t.Errorf("X-Forwarded-Prefix = %q", p)
	}
	if got.Header.Get("X-Hop") != "" {
		t.Error("header named in Connection was forwarded")
	}
	if got.Header.Get("X-Request-Id") != "abc" || got.Header.Get("X-Forwarded-For") == "" {
		t.Errorf("forwarding headers missing: %v", got.Header)
	}
	if tp := got.Header.Get("Traceparent"); !traceparentRE.MatchString(tp) {
		t.Errorf("generated traceparent %q is not W3C version 00", tp)
	}

	const clientTrace = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	req, _ = http.NewRequest("GET", url+"/app", nil)
	req.Header.Set("Traceparent", clientTrace)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got.Header.Get("Traceparent") != clientTrace || got.URL.Path != "/" {
		t.Errorf("client traceparent not passed through (%q) or bare prefix not mapped to / (%q)", got.Header.Get("Traceparent"), got.URL.Path)
	}
}

func TestQueueFullAnswers503WithRetryAfterAndServesTheQueued(t *testing.T) {
	release := make(chan struct{})
	var releaseOnce sync.Once
	letGo := func() { releaseOnce.Do(func() { close(release) }) }
	t.Cleanup(letGo) // a failed assertion must not leave the handler blocked
	var started atomic.Int32
	rep, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		started.Add(1)
		<-release
		io.WriteString(w, "done")
	})
	d := NewDeployment("app", "slow", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: 2}, nil)
	d.SetReplicas([]*Replica{rep})
	url := gateway(t, d, "/")

	type result struct {
		code  int
		retry string
		took  time.Duration
	}
	results := make(chan result, 8)
	for range 8 {
		go func() {
			start := time.Now()
			resp, err := http.Post(url+"/x", "text/plain", strings.NewReader("work"))
			if err != nil {
				results <- result{code: -1}
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			results <- result{resp.StatusCode, resp.Header.Get("Retry-After"), time.Since(start)}
		}()
	}
	var rejected []result
	for len(rejected) < 5 {
		r := <-results
		if r.code != http.StatusServiceUnavailable {
			t.Fatalf("before release got %+v; want only 503s", r)
		}
		rejected = append(rejected, r)
	}
	for _, r := range rejected {
		if r.retry == "" {
			t.Errorf("503 without Retry-After: %+v", r)
		}
	}
	// The rejections prove the queue was full; the running request may still
	// be on its way to the replica.
	testenv.WaitFor(t, 5*time.Second, "the running request to reach the replica", func() bool { return started.Load() == 1 })
	if d.Queued() != 2 || started.Load() != 1 {
		t.Fatalf("queued %d, started %d; want 2 queued and 1 running", d.Queued(), started.Load())
	}
	letGo()
	for range 3 {
		if r := <-results; r.code != 200 {
			t.Errorf("queued request got %+v, want 200", r)
		}
	}
}

func TestWaiterIsDispatchedWhenASlotFrees(t *testing.T) {
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: -1}, nil)
	rep := NewReplica("r", "127.0.0.1:1", ReplicaOptions{})
	d.SetReplicas([]*Replica{rep})
	first, err := d.Acquire(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan *Replica)
	go func() {
		r, err := d.Acquire(context.Background())
		if err != nil {
			t.Error(err)
		}
		got <- r
	}()
	testenv.WaitFor(t, 5*time.Second, "a request to queue", func() bool { return d.Queued() == 1 })
	d.Release(first)
	select {
	case r := <-got:
		if r != rep || rep.Inflight() != 1 {
			t.Fatalf("waiter got %v with inflight %d", r, rep.Inflight())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("waiter not dispatched after Release")
	}
}

func TestQueuedRequestWaitsForFirstReplica(t *testing.T) {
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: -1}, nil)
	got := make(chan error)
	go func() {
		_, err := d.Acquire(context.Background())
		got <- err
	}()
	testenv.WaitFor(t, 5*time.Second, "a request to queue", func() bool { return d.Queued() == 1 })
	d.SetReplicas([]*Replica{NewReplica("r", "127.0.0.1:1", ReplicaOptions{})})
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}

func TestCancelledWaiterLeavesTheQueue(t *testing.T) {
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: -1}, nil)
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error)
	go func() { _, err := d.Acquire(ctx); errc <- err }()
	testenv.WaitFor(t, 5*time.Second, "a request to queue", func() bool { return d.Queued() == 1 })
	cancel()
	if err := <-errc; err != context.Canceled {
		t.Fatalf("err = %v", err)
	}
	if d.Queued() != 0 {
		t.Fatalf("queued = %d after cancel", d.Queued())
	}
}

func TestRetriesDialErrorsAndRejections(t *testing.T) {
	good, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "good") })
	rejecting, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Gantry-Rejected", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	dead := NewReplica("dead", testenv.FreeAddr(t), ReplicaOptions{})
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 100, MaxQueuedRequests: -1, MaxAttempts: 3}, nil)
	d.SetReplicas([]*Replica{dead, rejecting, good})
	order := []int{0, 1, 2}
	var i atomic.Int32
	d.picker.intn = func(n int) int { return order[int(i.Add(1)-1)%len(order)] % n }
	url := gateway(t, d, "/")
	for range 20 {
		resp, err := http.Post(url+"/x", "application/json", strings.NewReader(`{"a":1}`))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "good" {
			t.Fatalf("got %d %q; want the good replica's answer", resp.StatusCode, body)
		}
	}
}

func TestPostIsNotRetriedAfterTheReplicaDied(t *testing.T) {
	var calls atomic.Int32
	die := func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close() // dies before answering
	}
	a, _ := upstream(t, die)
	b, _ := upstream(t, die)
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{a, b})
	url := gateway(t, d, "/")

	resp, err := http.Post(url+"/x", "text/plain", strings.NewReader("charge card"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || calls.Load() != 1 {
		t.Fatalf("POST: status %d after %d calls; want 502 after 1", resp.StatusCode, calls.Load())
	}
	calls.Store(0)
	resp, err = http.Get(url + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || calls.Load() != 3 {
		t.Fatalf("GET: status %d after %d calls; want 502 after 3 attempts", resp.StatusCode, calls.Load())
	}
}

func TestRequestTimeoutBeforeResponseIs504(t *testing.T) {
	rep, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1, RequestTimeout: 100 * time.Millisecond}, nil)
	d.SetReplicas([]*Replica{rep})
	resp, err := http.Get(gateway(t, d, "/") + "/x")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout {
		t.Fatalf("status %d, want 504", resp.StatusCode)
	}
	testenv.WaitFor(t, 5*time.Second, "the replica's in-flight count to fall to 0", func() bool { return rep.Inflight() == 0 })
}

func TestStreamingReachesTheClientChunkByChunk(t *testing.T) {
	next := make(chan struct{})
	rep, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for i := range 3 {
			if i > 0 {
				<-next // the test lets the next chunk go only after reading this one
			}
			io.WriteString(w, "data: chunk\n\n")
			w.(http.Flusher).Flush()
		}
	})
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{rep})
	resp, err := http.Get(gateway(t, d, "/") + "/events")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	buf := make([]byte, 64)
	for i := range 3 {
		n, err := io.ReadAtLeast(resp.Body, buf, len("data: chunk\n\n"))
		if err != nil || string(buf[:n]) != "data: chunk\n\n" {
			t.Fatalf("chunk %d: %q, %v", i, buf[:n], err)
		}
		if i < 2 {
			next <- struct{}{}
		}
	}
}

func TestBreakerSkipsAFailingReplica(t *testing.T) {
	good, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	_, srv := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		conn, _, _ := w.(http.Hijacker).Hijack()
		conn.Close() // accepts, then drops every request
	})
	failing := NewReplica("failing", srv.Listener.Addr().String(), ReplicaOptions{BreakerFailures: 2, BreakerOpen: time.Hour})
	t.Cleanup(failing.Close)
	reg := prometheus.NewRegistry()
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 100, MaxQueuedRequests: -1}, NewMetrics(reg))
	d.SetReplicas([]*Replica{failing, good})
	d.picker.intn = func(int) int { return 0 } // always offer the failing one first
	url := gateway(t, d, "/")
	allOK(t, url+"/x", 10)
	if !failing.breaker.tripped() || failing.Served() != 2 {
		t.Fatalf("failing replica: tripped %v after %d attempts; want tripped after 2", failing.breaker.tripped(), failing.Served())
	}
	// The trip is counted, once, where operators (and issue 14's
	// reliability suite) can see it.
	if n := testutil.ToFloat64(d.metrics.m.trips.WithLabelValues("app", "d")); n != 1 {
		t.Errorf("gantry_breaker_trips_total{app,d} = %v after one trip, want 1", n)
	}
}

func TestReplicaRefusingConnectionsIsSkippedAtOnce(t *testing.T) {
	good, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") })
	dead := NewReplica("dead", testenv.FreeAddr(t), ReplicaOptions{})
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 100, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{dead, good})
	d.picker.intn = func(int) int { return 0 } // always offer the dead one first
	url := gateway(t, d, "/")
	allOK(t, url+"/x", 10)
	if dead.Served() != 1 {
		t.Fatalf("a replica that refused a connection got %d attempts, want 1", dead.Served())
	}
}

func TestDrainWaitsForInflightRequests(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	letGo := func() { once.Do(func() { close(release) }) }
	t.Cleanup(letGo)
	rep, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) { <-release; io.WriteString(w, "done") })
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{rep})
	url := gateway(t, d, "/")
	codes := getAsync(url + "/x")
	testenv.WaitFor(t, 5*time.Second, "the request to reach the replica", func() bool { return rep.Inflight() == 1 })
	d.SetReplicas(nil)
	drained := make(chan bool)
	go func() { drained <- rep.Drain(context.Background()) }()
	select {
	case <-drained:
		t.Fatal("Drain returned with a request in flight")
	case <-time.After(50 * time.Millisecond):
	}
	letGo()
	if !<-drained || <-codes != 200 {
		t.Fatal("in-flight request did not finish cleanly")
	}
	if rep.acquire(5) {
		t.Fatal("a drained replica took a request")
	}
}

func TestMetricsCountByCode(t *testing.T) {
	rep, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(418) })
	reg := prometheus.NewRegistry()
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, NewMetrics(reg))
	d.SetReplicas([]*Replica{rep})
	url := gateway(t, d, "/")
	for range 3 {
		resp, _ := http.Get(url + "/x")
		resp.Body.Close()
	}
	m := d.metrics.m.requests.WithLabelValues("app", "d", "418")
	if v := testutil.ToFloat64(m); v != 3 {
		t.Fatalf("gantry_requests_total{code=418} = %v, want 3", v)
	}
}

func TestConcurrentAcquireNeverExceedsTheLimit(t *testing.T) {
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 3, MaxQueuedRequests: -1}, nil)
	reps := []*Replica{NewReplica("a", "x:1", ReplicaOptions{}), NewReplica("b", "x:2", ReplicaOptions{})}
	d.SetReplicas(reps)
	var wg sync.WaitGroup
	var over atomic.Bool
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				r, err := d.Acquire(context.Background())
				if err != nil {
					t.Error(err)
					return
				}
				if r.Inflight() > 3 {
					over.Store(true)
				}
				d.Release(r)
			}
		}()
	}
	wg.Wait()
	if over.Load() {
		t.Fatal("a replica exceeded max_ongoing_requests")
	}
	for _, r := range reps {
		if r.Inflight() != 0 {
			t.Fatalf("replica %s inflight %d after all released", r.id, r.Inflight())
		}
	}
}

var traceparentRE = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-01$`)

// getAsync GETs url in the background; the channel yields the status, or
// -1 when the request failed.
func getAsync(url string) <-chan int {
	codes := make(chan int, 1)
	go func() {
		resp, err := http.Get(url)
		if err != nil {
			codes <- -1
			return
		}
		resp.Body.Close()
		codes <- resp.StatusCode
	}()
	return codes
}

// allOK sends n GETs to url and fails the test unless each answers 200.
func allOK(t *testing.T, url string, n int) {
	t.Helper()
	for range n {
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
}

func TestRetryWaitsForAnUntriedReplicaInsteadOfTheOneThatFailed(t *testing.T) {
	good, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "good") })
	dead := NewReplica("dead", testenv.FreeAddr(t), ReplicaOptions{BreakerFailures: 100})
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: -1, MaxAttempts: 3}, nil)
	d.SetReplicas([]*Replica{good})
	held, err := d.Acquire(context.Background()) // the good replica is full
	if err != nil || held != good {
		t.Fatal(err)
	}
	d.SetReplicas([]*Replica{dead, good}) // the dead one is still in the pool
	url := gateway(t, d, "/")
	codes := getAsync(url + "/x")
	testenv.WaitFor(t, 5*time.Second, "a request to queue", func() bool { return d.Queued() == 1 }) // the retry waits for the good one
	d.Release(held)
	if code := <-codes; code != 200 || dead.Served() != 1 {
		t.Fatalf("status %d after %d attempts on the dead replica; want 200 after 1", code, dead.Served())
	}
}

// A Gantry-Rejected answer is not the start of a response: the retry after
// it is still bounded by request_timeout_s.
func TestRequestTimeoutStillHoldsAfterARejection(t *testing.T) {
	rejecting, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Gantry-Rejected", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
	})
	slow, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-time.After(10 * time.Second):
		}
	})
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1, RequestTimeout: 200 * time.Millisecond}, nil)
	d.SetReplicas([]*Replica{rejecting, slow})
	d.picker.intn = func(int) int { return 0 } // the rejecting replica first
	if code := <-getAsync(gateway(t, d, "/") + "/x"); code != http.StatusGatewayTimeout {
		t.Fatalf("status %d after a rejection and a slow retry, want 504", code)
	}
}

// Unsized and large bodies stream through http.Transport instead of the
// pooled connections; the replica must see the same request either way.
func TestStreamedBodyArrivesWithTheSameRewrites(t *testing.T) {
	type seen struct {
		path, prefix, id, trace, body string
	}
	got := make(chan seen, 1)
	rep, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- seen{r.URL.Path, r.Header.Get("X-Forwarded-Prefix"), r.Header.Get("X-Request-Id"), r.Header.Get("Traceparent"), string(b)}
	})
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{rep})
	url := gateway(t, d, "/app")
	payload := strings.Repeat("tensor bytes ", 200_000) // 2.6 MB, over MaxBufferedBody
	pr, pw := io.Pipe()
	go func() {
		io.WriteString(pw, payload)
		pw.Close()
	}()
	req, _ := http.NewRequest("POST", url+"/app/upload?x=1", pr) // no length: chunked
	req.Header.Set("X-Request-Id", "stream-1")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s := <-got
	if resp.StatusCode != 200 || s.path != "/upload" || s.prefix != "/app" || s.id != "stream-1" ||
		!traceparentRE.MatchString(s.trace) || s.body != payload {
		t.Fatalf("status %d; replica saw path %q prefix %q id %q trace %q and %d of %d body bytes",
			resp.StatusCode, s.path, s.prefix, s.id, s.trace, len(s.body), len(payload))
	}
}

package admin_test

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/admin"
	"gantry.dev/gantry/serve/servetest"
)

// clientFrom is an HTTP client whose connections come from the loopback
// address local (127.0.0.0/8 is all this machine's), so a test can be two
// clients.
func clientFrom(local string) *http.Client {
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
}

// get sends GET url with c and returns the status, Retry-After and body;
// a follow=1 stream's body is not read (close it with the returned func).
func get(t *testing.T, c *http.Client, url string) (code int, retryAfter, body string, closeBody func()) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Header.Get("Content-Type") == "text/event-stream" {
		return resp.StatusCode, "", "", func() { resp.Body.Close() }
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, resp.Header.Get("Retry-After"), string(b), func() {}
}

// Finding 4 of issue 14: heavy admin reads had no limit. Each client
// address now has a byte budget: spent, it gets 429 with Retry-After on
// every heavy endpoint (streams included) while other clients, and light
// endpoints, are served; the budget refills with time (an injected clock
// here, so the test does not depend on how fast it runs).
func TestHeavyReadsAreRateLimitedPerClient(t *testing.T) {
	var now atomic.Int64
	now.Store(time.Unix(1_800_000_000, 0).UnixNano())
	limit := &admin.ReadLimit{BytesPerSecond: 1000, Burst: 100_000, RequestCost: 10_000, StreamCost: 60_000,
		Now: func() time.Time { return time.Unix(0, now.Load()) }}
	srv := servetest.Start(t, serve.Options{AdminReadLimit: limit})
	dash := "http://" + srv.DashboardAddr()
	one, other := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	defer one.CloseIdleConnections()
	defer other.CloseIdleConnections()

	served := 0
	var code int
	var retry, body string
	for served = 0; served < 20; served++ {
		if code, retry, body, _ = get(t, one, dash+"/api/gantry/applications"); code != http.StatusOK {
			break
		}
	}
	// 100 kB of budget at 10 kB and a few hundred bytes a request: 10
	// requests get in, the 11th is refused.
	if served != 10 || code != http.StatusTooManyRequests {
		t.Fatalf("%d requests served, then %d %q; want 10, then 429", served, code, body)
	}
	secs, err := strconv.Atoi(retry)
	if err != nil || secs < 1 || !strings.Contains(body, "Retry-After") || !strings.Contains(body, "1000 bytes a second") {
		t.Fatalf("429 with Retry-After %q and %q; want whole seconds >= 1 and a body naming the budget", retry, body)
	}
	for _, path := range []string{"/api/serve/applications/", "/api/gantry/timeseries", "/api/gantry/events",
		"/api/gantry/events?follow=1", "/api/gantry/logs?replica=x"} {
		if code, retry, body, _ := get(t, one, dash+path); code != http.StatusTooManyRequests || retry == "" {
			t.Errorf("%s with the budget spent: %d %q (Retry-After %q), want 429", path, code, body, retry)
		}
	}
	for _, path := range []string{"/-/healthz", "/api/ray/version"} {
		if code, _, body, _ := get(t, one, dash+path); code != http.StatusOK {
			t.Errorf("%s is not a heavy read: %d %q, want 200", path, code, body)
		}
	}
	if code, _, body, _ := get(t, other, dash+"/api/gantry/applications"); code != http.StatusOK {
		t.Errorf("another client address: %d %q, want 200", code, body)
	}

	// After Retry-After seconds the client is served again.
	now.Add(int64(time.Duration(secs) * time.Second))
	if code, _, body, _ := get(t, one, dash+"/api/gantry/applications"); code != http.StatusOK {
		t.Errorf("after Retry-After: %d %q, want 200", code, body)
	}

	// Streams cost more: with a full budget (100 kB) two streams of 60 kB
	// open, the third is refused.
	now.Add(int64(time.Hour))
	for i := range 3 {
		code, _, body, closeBody := get(t, one, dash+"/api/gantry/events?follow=1")
		defer closeBody()
		if want := map[bool]int{true: http.StatusOK, false: http.StatusTooManyRequests}[i < 2]; code != want {
			t.Errorf("stream %d: %d %q, want %d", i+1, code, body, want)
		}
	}
}

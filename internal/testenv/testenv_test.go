package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

func TestFreePortsAreDistinctAndBindable(t *testing.T) {
	ports := FreePorts(t, 5)
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] {
			t.Fatalf("port %d repeats in %v", p, ports)
		}
		seen[p] = true
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			t.Fatalf("port %d is not free: %v", p, err)
		}
		ln.Close()
	}
}

func TestFreeAddrRefusesConnections(t *testing.T) {
	addr := FreeAddr(t)
	if _, _, err := TryGet("http://" + addr + "/"); err == nil {
		t.Fatalf("GET %s succeeded; want a refused connection", addr)
	}
}

func TestRequestsReadTheAnswerAndKeepNoConnection(t *testing.T) {
	var conns atomic.Int32
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("X-Method", r.Method)
		w.WriteHeader(http.StatusTeapot)
		io.WriteString(w, "got "+string(b))
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	if code, body := Get(t, srv.URL); code != http.StatusTeapot || body != "got " {
		t.Errorf("Get = %d %q", code, body)
	}
	if r := Call(t, http.MethodPut, srv.URL, "x"); r.Code != http.StatusTeapot || r.Body != "got x" || r.Header.Get("X-Method") != "PUT" {
		t.Errorf("Call = %+v", r)
	}
	if code, body, err := TryGet(srv.URL); err != nil || code != http.StatusTeapot || string(body) != "got " {
		t.Errorf("TryGet = %d %q %v", code, body, err)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("3 requests used %d connections; want one each, none kept", n)
	}
}

func TestEventuallyStopsAtTheDeadline(t *testing.T) {
	calls := 0
	if !Eventually(time.Second, func() bool { calls++; return calls == 3 }) || calls != 3 {
		t.Errorf("Eventually returned after %d calls; want true after 3", calls)
	}
	start := time.Now()
	if Eventually(50*time.Millisecond, func() bool { return false }) {
		t.Error("Eventually reported a condition that never held")
	}
	if waited := time.Since(start); waited < 50*time.Millisecond || waited > 5*time.Second {
		t.Errorf("Eventually gave up after %v; want just past 50ms", waited)
	}
}

// failRecorder is a testing.TB that records Fatalf instead of stopping the
// test, so WaitFor's failure can be checked.
type failRecorder struct {
	testing.TB
	msg string
}

func (f *failRecorder) Helper() {}
func (f *failRecorder) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
}

func TestWaitForNamesWhatItWaitedFor(t *testing.T) {
	rec := &failRecorder{TB: t}
	WaitFor(rec, 20*time.Millisecond, "the moon to turn blue", func() bool { return false })
	if want := "timed out after 20ms waiting for the moon to turn blue"; rec.msg != want {
		t.Errorf("WaitFor failed with %q, want %q", rec.msg, want)
	}
	rec.msg = ""
	WaitFor(rec, time.Second, "nothing", func() bool { return true })
	if rec.msg != "" {
		t.Errorf("WaitFor failed on a condition that held: %q", rec.msg)
	}
}

package replica

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// manualClock hands every wait to the test, which fires it: checks run in
// lock-step with the test.
type manualClock struct{ waits chan clockWait }

type clockWait struct {
	d    time.Duration
	fire chan<- time.Time
}

func newManualClock() *manualClock { return &manualClock{waits: make(chan clockWait)} }

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	c.waits <- clockWait{d, ch}
	return ch
}

// healthServer answers its health endpoint with the status the test sets.
type healthServer struct {
	*httptest.Server
	status atomic.Int64
	probes atomic.Int64
	path   atomic.Value // of the last probe
}

func newHealthServer(t *testing.T, status int) *healthServer {
	t.Helper()
	s := &healthServer{}
	s.status.Store(int64(status))
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.probes.Add(1)
		s.path.Store(r.URL.Path)
		code := int(s.status.Load())
		w.WriteHeader(code)
		if code != http.StatusOK {
			w.Write([]byte("warming up\n"))
		}
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *healthServer) addr() string { return strings.TrimPrefix(s.URL, "http://") }

func TestProbe(t *testing.T) {
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedAddr := strings.TrimPrefix(refused.URL, "http://")
	refused.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()

	tests := []struct {
		name    string
		status  int    // of a healthServer, when addr is empty
		addr    string // else
		path    string
		wantErr string // substring; empty for success
	}{
		{name: "healthy", status: 200},
		{name: "custom path", status: 200, path: "/ready"},
		{name: "unhealthy", status: 503, wantErr: "/-/healthz: 503 Service Unavailable: warming up"},
		{name: "refused", addr: refusedAddr, wantErr: "health check GET http://" + refusedAddr + "/-/healthz: dial tcp"},
		{name: "no answer", addr: strings.TrimPrefix(hang.URL, "http://"), wantErr: "/-/healthz: no answer within 50ms"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := tt.addr
			var srv *healthServer
			if addr == "" {
				srv = newHealthServer(t, tt.status)
				addr = srv.addr()
			}
			c := &Checker{Path: tt.path, Timeout: 50 * time.Millisecond}
			err := c.Probe(context.Background(), addr)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Probe: %v", err)
				}
			} else if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Probe error = %v, want one containing %q", err, tt.wantErr)
			}
			if want := tt.path; srv != nil && want != "" && srv.path.Load() != want {
				t.Errorf("probed %v, want %s", srv.path.Load(), want)
			}
		})
	}
}

// goCheck runs f in a goroutine and returns its result channel.
func goCheck(f func() error) <-chan error {
	ch := make(chan error, 1)
	go func() { ch <- f() }()
	return ch
}

// nextWait returns the checker's next wait, failing if it returned instead.
func nextWait(t *testing.T, clk *manualClock, result <-chan error) clockWait {
	t.Helper()
	select {
	case w := <-clk.waits:
		return w
	case err := <-result:
		t.Fatalf("returned early: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("checker neither waited nor returned")
	}
	panic("unreachable")
}

func checkResult(t *testing.T, ch <-chan error) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(10 * time.Second):
		t.Fatal("checker did not return")
		return nil
	}
}

func TestWaitReady(t *testing.T) {
	t.Run("backs off until the first 200", func(t *testing.T) {
		srv := newHealthServer(t, 503)
		clk := newManualClock()
		c := &Checker{Clock: clk}
		done := goCheck(func() error { return c.WaitReady(context.Background(), srv.addr(), nil) })
		want := []time.Duration{50, 100, 200, 400, 800, 1000, 1000}
		for i, ms := range want {
			w := nextWait(t, clk, done)
			if w.d != ms*time.Millisecond {
				t.Errorf("wait %d = %v, want %v", i, w.d, ms*time.Millisecond)
			}
			if i == len(want)-1 {
				srv.status.Store(200)
			}
			w.fire <- time.Time{}
		}
		if err := checkResult(t, done); err != nil {
			t.Fatalf("WaitReady: %v", err)
		}
		if n := srv.probes.Load(); n != int64(len(want)+1) {
			t.Errorf("%d probes, want %d", n, len(want)+1)
		}
	})

	t.Run("process exits", func(t *testing.T) {
		srv := newHealthServer(t, 503)
		clk := newManualClock()
		exited := make(chan struct{})
		c := &Checker{Clock: clk}
		done := goCheck(func() error { return c.WaitReady(context.Background(), srv.addr(), exited) })
		nextWait(t, clk, done)
		close(exited)
		err := checkResult(t, done)
		if !errors.Is(err, ErrExited) || !strings.Contains(err.Error(), "503 Service Unavailable") {
			t.Errorf("WaitReady = %v, want ErrExited naming the last failure", err)
		}
	})

	t.Run("context ends", func(t *testing.T) {
		srv := newHealthServer(t, 503)
		clk := newManualClock()
		ctx, cancel := context.WithCancel(context.Background())
		c := &Checker{Clock: clk}
		done := goCheck(func() error { return c.WaitReady(ctx, srv.addr(), nil) })
		nextWait(t, clk, done)
		cancel()
		err := checkResult(t, done)
		if !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "503 Service Unavailable") {
			t.Errorf("WaitReady = %v, want context.Canceled naming the last failure", err)
		}
	})

	t.Run("already exited", func(t *testing.T) {
		exited := make(chan struct{})
		close(exited)
		c := &Checker{Clock: newManualClock()}
		if err := c.WaitReady(context.Background(), "127.0.0.1:1", exited); !errors.Is(err, ErrExited) {
			t.Errorf("WaitReady = %v, want ErrExited", err)
		}
	})
}

func TestWatch(t *testing.T) {
	tests := []struct {
		name    string
		answers []int // one per probe; Watch must return after the last
		wantErr error
	}{
		{"three failures", []int{200, 503, 503, 503}, ErrUnhealthy},
		{"success resets the count", []int{503, 503, 200, 503, 503, 200, 500, 500, 500}, ErrUnhealthy},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newHealthServer(t, 200)
			clk := newManualClock()
			c := &Checker{Clock: clk, Period: 7 * time.Second}
			done := goCheck(func() error { return c.Watch(context.Background(), srv.addr(), nil) })
			for i, code := range tt.answers {
				w := nextWait(t, clk, done)
				if w.d != 7*time.Second {
					t.Errorf("wait %d = %v, want the period", i, w.d)
				}
				srv.status.Store(int64(code))
				w.fire <- time.Time{}
			}
			err := checkResult(t, done)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Watch = %v, want %v", err, tt.wantErr)
			}
			last := tt.answers[len(tt.answers)-1]
			if want := "3 health checks in a row failed, the last: health check GET " + srv.URL + "/-/healthz: " + strconv.Itoa(last) + " " + http.StatusText(last); !strings.Contains(err.Error(), want) {
				t.Errorf("Watch = %q, want it to contain %q", err, want)
			}
			if n := srv.probes.Load(); n != int64(len(tt.answers)) {
				t.Errorf("%d probes, want %d", n, len(tt.answers))
			}
		})
	}

	t.Run("process exits", func(t *testing.T) {
		srv := newHealthServer(t, 200)
		clk := newManualClock()
		exited := make(chan struct{})
		c := &Checker{Clock: clk}
		done := goCheck(func() error { return c.Watch(context.Background(), srv.addr(), exited) })
		nextWait(t, clk, done).fire <- time.Time{}
		nextWait(t, clk, done)
		close(exited)
		if err := checkResult(t, done); !errors.Is(err, ErrExited) {
			t.Errorf("Watch = %v, want ErrExited", err)
		}
	})

	t.Run("context ends", func(t *testing.T) {
		srv := newHealthServer(t, 200)
		clk := newManualClock()
		ctx, cancel := context.WithCancel(context.Background())
		c := &Checker{Clock: clk}
		done := goCheck(func() error { return c.Watch(ctx, srv.addr(), nil) })
		if w := nextWait(t, clk, done); w.d != DefaultHealthCheckPeriod {
			t.Errorf("wait = %v, want the default period %v", w.d, DefaultHealthCheckPeriod)
		}
		cancel()
		if err := checkResult(t, done); !errors.Is(err, context.Canceled) {
			t.Errorf("Watch = %v, want context.Canceled", err)
		}
	})
}

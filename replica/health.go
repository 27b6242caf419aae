package replica

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

var (
	// ErrUnhealthy is wrapped by Watch's error once a replica has failed
	// FailureThreshold health checks in a row.
	ErrUnhealthy = errors.New("replica unhealthy")
	// ErrExited is wrapped by WaitReady's and Watch's errors when the
	// replica's process exited.
	ErrExited = errors.New("replica exited")
)

// Defaults for the zero fields of Checker.
const (
	DefaultHealthCheckPeriod  = 10 * time.Second // Ray's health_check_period_s
	DefaultHealthCheckTimeout = 30 * time.Second // Ray's health_check_timeout_s
	DefaultFailureThreshold   = 3
	DefaultStartupInterval    = 50 * time.Millisecond
	// maxStartupInterval caps the doubling of StartupInterval.
	maxStartupInterval = time.Second
	// maxBodyInError is how much of an unhealthy answer an error quotes.
	maxBodyInError = 256
)

// Clock is the time source of health checks: real time by default, a clock
// the test drives under test.
type Clock interface {
	// After behaves like time.After.
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Checker probes a replica's health endpoint over HTTP. Its methods may be
// called concurrently, for many replicas, as long as its fields are not
// changed.
type Checker struct {
	// Client sends the probes. Default: http.DefaultClient. It needs no
	// overall Timeout: Timeout bounds each probe.
	Client *http.Client
	// Path is the health endpoint. Default: HealthPath ("/-/healthz").
	Path string
	// Period is the time between probes of a running replica
	// (health_check_period_s). Default: 10s.
	Period time.Duration
	// Timeout bounds one probe (health_check_timeout_s). Default: 30s.
	Timeout time.Duration
	// FailureThreshold is how many probes in a row must fail for Watch to
	// call a replica unhealthy. Default: 3.
	FailureThreshold int
	// StartupInterval is the first wait between probes of a starting
	// replica; it doubles after each failure, up to 1s. Default: 50ms.
	StartupInterval time.Duration
	// Clock drives the waits between probes. Default: real time. (A probe's
	// own Timeout always runs on real time.)
	Clock Clock
	// Prober, when set, sends the probes instead of an HTTP GET of Path,
	// e.g. GRPCProber for replicas with replica.protocol: grpc. Timeout
	// still bounds each probe.
	Prober Prober
}

// Probe sends one GET to the health endpoint of the replica at addr
// (host:port) and returns nil if it answers 200 within Timeout. The error
// names the URL and what went wrong.
func (c *Checker) Probe(ctx context.Context, addr string) error {
	if c.Prober != nil {
		return c.probeWith(ctx, addr)
	}
	u := "http://" + addr + c.path()
	timeout := durationOr(c.Timeout, DefaultHealthCheckTimeout)
	probeCtx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(probeCtx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("health check: %w", err)
	}
	client := c.Client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		if ctx.Err() == nil && errors.Is(probeCtx.Err(), context.DeadlineExceeded) {
			return fmt.Errorf("health check GET %s: no answer within %v: %w", u, timeout, context.DeadlineExceeded)
		}
		if ue, ok := errors.AsType[*url.Error](err); ok {
			err = ue.Err // its message repeats the URL
		}
		return fmt.Errorf("health check GET %s: %w", u, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxBodyInError))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection can be reused
	if resp.StatusCode != http.StatusOK {
		msg := resp.Status
		if b := strings.TrimSpace(string(body)); b != "" {
			msg += ": " + b
		}
		return fmt.Errorf("health check GET %s: %s", u, msg)
	}
	return nil
}

// WaitReady probes the replica at addr until it first answers 200, waiting
// StartupInterval between probes and doubling the wait after each failure,
// up to 1s. It returns nil once the replica is ready, an error wrapping
// ErrExited if exited is closed first (the process died), and an error
// wrapping ctx's error, with the last probe's failure, when ctx ends first.
func (c *Checker) WaitReady(ctx context.Context, addr string, exited <-chan struct{}) error {
	interval := durationOr(c.StartupInterval, DefaultStartupInterval)
	maxInterval := max(interval, maxStartupInterval)
	for {
		if isClosed(exited) {
			return fmt.Errorf("%w before its first health check", ErrExited)
		}
		err := c.Probe(ctx, addr)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("replica at %s not ready: %w; last %v", addr, ctx.Err(), err)
		case <-exited:
			return fmt.Errorf("%w before it was ready; last %v", ErrExited, err)
		case <-c.clock().After(interval):
		}
		interval = min(interval*2, maxInterval)
	}
}

// Watch probes the replica at addr every Period. It returns an error
// wrapping ErrUnhealthy and the last failure after FailureThreshold probes
// in a row failed, ErrExited when exited is closed, and ctx's error when ctx
// ends. A replica that answers 200 again resets the count.
func (c *Checker) Watch(ctx context.Context, addr string, exited <-chan struct{}) error {
	period := durationOr(c.Period, DefaultHealthCheckPeriod)
	threshold := c.FailureThreshold
	if threshold <= 0 {
		threshold = DefaultFailureThreshold
	}
	failures := 0
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-exited:
			return ErrExited
		case <-c.clock().After(period):
		}
		err := c.Probe(ctx, addr)
		switch {
		case err == nil:
			failures = 0
			continue
		case ctx.Err() != nil:
			return ctx.Err()
		case isClosed(exited):
			return ErrExited
		}
		failures++
		if failures >= threshold {
			return fmt.Errorf("%w: %d health checks in a row failed, the last: %w", ErrUnhealthy, failures, err)
		}
	}
}

func (c *Checker) path() string {
	switch {
	case c.Path == "":
		return HealthPath
	case !strings.HasPrefix(c.Path, "/"):
		return "/" + c.Path
	default:
		return c.Path
	}
}

func (c *Checker) clock() Clock {
	if c.Clock == nil {
		return realClock{}
	}
	return c.Clock
}

func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// isClosed reports whether ch is closed; a nil ch never is.
func isClosed(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

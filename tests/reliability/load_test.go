package reliability

import (
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// normalTimeout bounds each normal request. It is far above a normal
// request's latency and far below request_timeout_s (30 s): a normal
// request that waits behind an attacker for long fails instead of hanging.
const normalTimeout = 10 * time.Second

// normalPace is how often each normal worker sends a request: a steady
// client, not one that takes the two cores from the attack.
const normalPace = 5 * time.Millisecond

// figures are a set of normal requests' outcomes.
type figures struct {
	ok       int
	failed   int
	failures []string // the first few failures
	latency  []time.Duration
}

// quantile is the q-quantile of the successful requests' latencies.
func (f figures) quantile(q float64) time.Duration {
	if len(f.latency) == 0 {
		return 0
	}
	s := slices.Clone(f.latency)
	slices.Sort(s)
	return s[min(len(s)-1, int(q*float64(len(s))))]
}

// normalClient sends GET url from a few workers, each on a keep-alive
// connection of its own opened before any attack, until stopped.
type normalClient struct {
	url  string
	stop chan struct{}
	wg   sync.WaitGroup

	mu  sync.Mutex
	fig figures
}

// startNormal starts workers that each send GET url every normalPace until
// Stop. Each worker opens its connection with a first request before
// startNormal returns.
func startNormal(t *testing.T, url string, workers int) *normalClient {
	t.Helper()
	n := &normalClient{url: url, stop: make(chan struct{})}
	ready := make(chan struct{}, workers)
	for range workers {
		n.wg.Add(1)
		go n.work(ready)
	}
	for range workers {
		<-ready
	}
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			n.Stop()
		}
	})
	return n
}

func (n *normalClient) work(ready chan<- struct{}) {
	defer n.wg.Done()
	transport := &http.Transport{MaxIdleConnsPerHost: 1}
	defer transport.CloseIdleConnections()
	client := &http.Client{Timeout: normalTimeout, Transport: transport}
	tick := time.NewTicker(normalPace)
	defer tick.Stop()
	n.once(client)
	ready <- struct{}{}
	for {
		select {
		case <-n.stop:
			return
		case <-tick.C:
			n.once(client)
		}
	}
}

// once sends one normal request and records its outcome.
func (n *normalClient) once(client *http.Client) {
	start := time.Now()
	resp, err := client.Get(n.url)
	var failure string
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			failure = fmt.Sprintf("%s after %v", resp.Status, time.Since(start).Round(time.Millisecond))
		}
	}
	if err != nil {
		failure = err.Error()
	}
	took := time.Since(start)
	n.mu.Lock()
	defer n.mu.Unlock()
	if failure != "" {
		n.fig.failed++
		if len(n.fig.failures) < 5 {
			n.fig.failures = append(n.fig.failures, failure)
		}
		return
	}
	n.fig.ok++
	n.fig.latency = append(n.fig.latency, took)
}

// Successes is the number of normal requests answered 200 so far.
func (n *normalClient) Successes() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fig.ok
}

// Stop stops the workers, waits for them and returns the figures.
func (n *normalClient) Stop() figures {
	select {
	case <-n.stop:
	default:
		close(n.stop)
	}
	n.wg.Wait()
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.fig
}

// baseline runs a normal client alone for count requests and returns its
// figures: the idle latency an attack's is compared with.
func baseline(t *testing.T, url string, count int) figures {
	t.Helper()
	n := startNormal(t, url, 1)
	testenv.Eventually(60*time.Second, func() bool { return n.Successes() >= count })
	f := n.Stop()
	if f.failed > 0 || f.ok < count {
		t.Fatalf("before any attack, normal requests: %d ok, %d failed (%v)", f.ok, f.failed, f.failures)
	}
	return f
}

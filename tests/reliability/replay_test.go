package reliability

import (
	"fmt"
	"os"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// resultsEnv names a file each replayed attack appends its figures to, as
// a row of a Markdown table (see resultsHeader).
const resultsEnv = "GANTRY_RELIABILITY_RESULTS"

// resultsHeader heads the table of rows record appends.
const resultsHeader = "| attack | normal 200s | normal failed | normal p50 idle → attack (×) | normal p99 idle → attack (×) | RSS idle / peak / after (MB) | bad clients got |\n" +
	"|---|---|---|---|---|---|---|\n"

// result is what one replayed attack did.
type result struct {
	attack                     string
	idle, during               figures
	rssIdle, rssPeak, rssAfter int64
	bad                        string // what the bad clients got
}

// replay runs attack against the gateway's app/d while a normal client
// sends GET path (a route of app) from two workers, before, during and just
// after it, and then checks what every attack must leave intact: every
// normal request got 200, no breaker of app's replicas opened, and the
// gateway's RSS comes back below twice its idle value. attack checks what
// its bad clients got and returns a summary of it for the results.
func (g *gateway) replay(t *testing.T, name, path string, attack func(t *testing.T) string) {
	t.Helper()
	idle := baseline(t, g.url+path, 200)
	rssIdle, _ := g.memory(t)
	trips := g.breakerTrips(t, "app")

	normal := startNormal(t, g.url+path, 2)
	bad := attack(t)
	// The normal client goes on past the attack's end: requests queued
	// behind the attackers are answered (or fail) by then.
	past := normal.Successes() + 20
	testenv.Eventually(30*time.Second, func() bool { return normal.Successes() >= past })
	during := normal.Stop()

	if during.failed > 0 {
		t.Errorf("%s: %d of %d normal requests failed, e.g. %q; want every one answered 200",
			name, during.failed, during.failed+during.ok, during.failures)
	}
	if during.ok < past {
		t.Errorf("%s: only %d normal requests answered 200 (want at least %d)", name, during.ok, past)
	}
	if n := g.breakerTrips(t, "app"); n != trips {
		t.Errorf("%s: replicas' circuit breakers opened %v times during the attack; want none", name, n-trips)
	}
	var rss int64
	if !testenv.Eventually(30*time.Second, func() bool {
		rss, _ = g.memory(t)
		return rss < 2*rssIdle
	}) {
		live, _ := g.metricSum(t, "go_memstats_heap_alloc_bytes", nil)
		goal, _ := g.metricSum(t, "go_memstats_next_gc_bytes", nil)
		t.Errorf("%s: gateway RSS %d MB 30s after the attack; want below 2× its idle %d MB (Go heap now: %.0f MB allocated, next GC at %.0f MB)",
			name, rss>>20, rssIdle>>20, live/(1<<20), goal/(1<<20))
	}
	_, peak := g.memory(t)
	record(t, result{attack: name, idle: idle, during: during, rssIdle: rssIdle, rssPeak: peak, rssAfter: rss, bad: bad})
}

// record logs r and appends it to the results file, if one is named.
func record(t *testing.T, r result) {
	t.Helper()
	ratio := func(q float64) string {
		i, d := r.idle.quantile(q), r.during.quantile(q)
		if i == 0 {
			return fmt.Sprintf("— → %s", ms(d))
		}
		return fmt.Sprintf("%s → %s (%.1f)", ms(i), ms(d), float64(d)/float64(i))
	}
	row := fmt.Sprintf("| %s | %d | %d | %s | %s | %.0f / %.0f / %.0f | %s |\n", r.attack, r.during.ok, r.during.failed,
		ratio(0.5), ratio(0.99), mb(r.rssIdle), mb(r.rssPeak), mb(r.rssAfter), r.bad)
	t.Log(row)
	path := os.Getenv(resultsEnv)
	if path == "" {
		return
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		t.Errorf("%s: %v", resultsEnv, err)
		return
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && st.Size() == 0 {
		f.WriteString(resultsHeader)
	}
	f.WriteString(row)
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }

func mb(b int64) float64 { return float64(b) / (1 << 20) }

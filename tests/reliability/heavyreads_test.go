package reliability

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// manyApps is how many applications (of no replica each) the heavy-reads
// test adds beside app.
const manyApps = 300

// Finding 4, admin reads: GET /api/gantry/timeseries answered one 133 MB
// body for 1,000 applications (eight at once: 3.6 GB RSS), and anyone could
// ask for it in a loop. Replayed with 300 more applications: the time
// series comes in pages of at most 50 series (?limit= up to 200) and
// 4 MiB, which together hold every deployment's series; a limit past 200
// is refused with 400 naming limit; and eight clients reading the
// applications view in a loop get 429 with Retry-After naming the budget,
// while app's normal client goes on and RSS comes back.
func TestHeavyAdminReadsArePagedAndRateLimited(t *testing.T) {
	var apps strings.Builder
	for i := range manyApps {
		fmt.Fprintf(&apps, "- name: a%03d\n  route_prefix: /a%03d\n  deployments:\n  - name: d\n    num_replicas: 0\n    replica: {command: [TESTREPLICA]}\n", i, i)
	}
	g := startGateway(t, twoReplicas("", "")+apps.String())
	g.waitRunning(t, "app", "d", 2, "/app/id")
	g.replay(t, "4: time series of 301 deployments, heavy reads in a loop", "/app/id", func(t *testing.T) string {
		series := g.dashboardURL + "/api/gantry/timeseries"
		r := testenv.Call(t, http.MethodGet, series+"?limit=1000", "")
		if r.Code != http.StatusBadRequest || !strings.Contains(r.Body, "limit") {
			t.Errorf("GET /api/gantry/timeseries?limit=1000: %d %q; want 400 naming limit", r.Code, r.Body)
		}
		pages, total, largest := timeseriesPages(t, series)
		if total != manyApps+1 {
			t.Errorf("the time series pages held %d series; want one per deployment, %d", total, manyApps+1)
		}
		refused, retryAfter, body := hammer(t, g.dashboardURL+"/api/gantry/applications")
		if refused == 0 {
			t.Errorf("8 clients reading /api/gantry/applications in a loop for up to 30 s were never refused; want 429")
		} else if _, err := strconv.Atoi(retryAfter); err != nil || !strings.Contains(body, "budget") {
			t.Errorf("heavy read past the budget: Retry-After %q, %q; want Retry-After in seconds and the budget named", retryAfter, body)
		}
		return fmt.Sprintf("time series in %d pages (largest %d KiB, ≤ 50 series); limit=1000 → %d; %d× 429 (Retry-After %s s) to a loop of applications reads",
			pages, largest>>10, r.Code, refused, retryAfter)
	})
}

// timeseriesPages reads every page of the time series at url and returns
// how many pages, how many series in all and the largest page's size,
// checking that each page keeps to the default limit of 50 series and to
// 4 MiB.
func timeseriesPages(t *testing.T, base string) (pages, total, largest int) {
	t.Helper()
	token := ""
	for {
		u := base
		if token != "" {
			u += "?page_token=" + url.QueryEscape(token)
		}
		r := testenv.Call(t, http.MethodGet, u, "")
		if r.Code != 200 {
			t.Fatalf("GET %s: %d %.300q", u, r.Code, r.Body)
		}
		var page struct {
			Series        []json.RawMessage `json:"series"`
			NextPageToken string            `json:"next_page_token"`
		}
		if err := json.Unmarshal([]byte(r.Body), &page); err != nil {
			t.Fatalf("GET %s: %v\n%.300s", u, err, r.Body)
		}
		if len(page.Series) > 50 || len(r.Body) > 4<<20 {
			t.Errorf("a time series page holds %d series in %d bytes; want at most 50 and 4 MiB", len(page.Series), len(r.Body))
		}
		pages, total, largest = pages+1, total+len(page.Series), max(largest, len(r.Body))
		if page.NextPageToken == "" || pages > manyApps {
			return pages, total, largest
		}
		token = page.NextPageToken
	}
}

// hammer reads url from eight clients in a loop until one is refused with
// 429, or for 30 s, and returns how many were refused and the first
// refusal's Retry-After and body.
func hammer(t *testing.T, url string) (refused int, retryAfter, body string) {
	t.Helper()
	var (
		n     atomic.Int64
		once  sync.Once
		wg    sync.WaitGroup
		until = time.Now().Add(30 * time.Second)
	)
	for range 8 {
		wg.Go(func() {
			client := &http.Client{Timeout: rawTimeout}
			for n.Load() == 0 && time.Now().Before(until) {
				resp, err := client.Get(url)
				if err != nil {
					t.Errorf("GET %s: %v", url, err)
					return
				}
				b := readAll(resp)
				if resp.StatusCode == http.StatusTooManyRequests {
					n.Add(1)
					once.Do(func() { retryAfter, body = resp.Header.Get("Retry-After"), b })
				}
			}
		})
	}
	wg.Wait()
	return int(n.Load()), retryAfter, body
}

package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/admin"
	"gantry.dev/gantry/serve/servetest"
)

// manyAppsGateway runs a gateway with n applications of one zero-replica
// deployment each: no process starts, but each has a series.
func manyAppsGateway(t *testing.T, n int) *serve.Server {
	t.Helper()
	var b strings.Builder
	b.WriteString("applications:\n")
	for i := range n {
		fmt.Fprintf(&b, "- name: app%04d\n  route_prefix: /app%04d\n  deployments:\n  - name: d\n    num_replicas: 0\n    replica: {command: [TESTREPLICA]}\n", i, i)
	}
	srv, _ := servetest.GatewayWith(t, b.String())
	testenv.WaitFor(t, 60*time.Second, fmt.Sprintf("%d applications in the snapshot", n), func() bool {
		return len(srv.Controller().Snapshot().Applications) == n
	})
	return srv
}

// walkPages GETs every page of the time series at dashboard with query,
// checking each page's bounds, and returns the series in order.
func walkPages(t *testing.T, dashboard, query string, limit int) []admin.Series {
	t.Helper()
	var all []admin.Series
	token := ""
	for pages := 0; ; pages++ {
		if pages > 10_000 {
			t.Fatal("the pages never end")
		}
		u := dashboard + "/api/gantry/timeseries?" + query
		if token != "" {
			u += "&page_token=" + url.QueryEscape(token)
		}
		code, _, body := servetest.Call(t, http.MethodGet, u, "", "")
		if code != http.StatusOK {
			t.Fatalf("GET %s: %d %s", u, code, body)
		}
		if len(body) > admin.MaxTimeseriesBytes {
			t.Fatalf("GET %s: %d bytes, more than MaxTimeseriesBytes (%d)", u, len(body), admin.MaxTimeseriesBytes)
		}
		var p timeseriesPage
		if err := json.Unmarshal([]byte(body), &p); err != nil || p.NextPageToken == nil {
			t.Fatalf("GET %s: %v (next_page_token %v)", u, err, p.NextPageToken)
		}
		if len(p.Series) == 0 || len(p.Series) > limit {
			t.Fatalf("GET %s: %d series, want 1 to %d", u, len(p.Series), limit)
		}
		all = append(all, p.Series...)
		if token = *p.NextPageToken; token == "" {
			return all
		}
	}
}

// Finding 4 of issue 14: with 1,000 applications GET
// /api/gantry/timeseries answered 133 MB in one body. Now every answer is
// a page of at most ?limit= series and MaxTimeseriesBytes, and the pages
// together give every series once, in order.
func TestTimeseriesIsPagedAndBounded(t *testing.T) {
	const apps = 1000
	srv := manyAppsGateway(t, apps)
	dashboard := "http://" + srv.DashboardAddr()

	// The live sampler (once a second) has a point for every deployment.
	testenv.WaitFor(t, 30*time.Second, "a point in the last series", func() bool {
		code, _, body := servetest.Call(t, http.MethodGet, dashboard+"/api/gantry/timeseries?app=app0999", "", "")
		return code == http.StatusOK && strings.Contains(body, `"points":[{`)
	})
	checkAllOnce := func(got []admin.Series) {
		t.Helper()
		if len(got) != apps {
			t.Fatalf("%d series over all pages, want %d", len(got), apps)
		}
		for i, s := range got {
			if want := fmt.Sprintf("app%04d", i); s.Application != want || s.Deployment != "d" {
				t.Fatalf("series %d is %s/%s, want %s/d", i, s.Application, s.Deployment, want)
			}
		}
	}
	checkAllOnce(walkPages(t, dashboard, "", admin.DefaultSeriesPerPage))
	checkAllOnce(walkPages(t, dashboard, "limit=7&last=1", 7))

	// Full 15-minute series: a sampler over the same gateway's controller,
	// on a clock that moves a second per sample, fills every ring; then the
	// byte cap, not ?limit=, ends each page.
	now := time.Unix(1_800_000_000, 0)
	s := &admin.Sampler{Snapshot: srv.Controller().Snapshot, Traffic: srv.Controller().Traffic, Now: func() time.Time { return now }}
	for range admin.SeriesPoints + 1 {
		s.Sample()
		now = now.Add(time.Second)
	}
	q := admin.TimeseriesQuery{Limit: admin.MaxSeriesPerPage}
	var got []admin.Series
	for {
		body := s.Page(q)
		if len(body) > admin.MaxTimeseriesBytes {
			t.Fatalf("a page of full series is %d bytes, more than MaxTimeseriesBytes (%d)", len(body), admin.MaxTimeseriesBytes)
		}
		var p timeseriesPage
		if err := json.Unmarshal(body, &p); err != nil {
			t.Fatal(err)
		}
		if *p.NextPageToken != "" && len(p.Series) == admin.MaxSeriesPerPage {
			t.Fatalf("a page of %d full series (%d bytes): the byte cap should have ended it first", len(p.Series), len(body))
		}
		for _, se := range p.Series {
			if len(se.Points) != admin.SeriesPoints {
				t.Fatalf("%s: %d points, want %d", se.Application, len(se.Points), admin.SeriesPoints)
			}
		}
		got = append(got, p.Series...)
		if q.PageToken = *p.NextPageToken; q.PageToken == "" {
			break
		}
	}
	checkAllOnce(got)
}

func TestTimeseriesRefusesBadParameters(t *testing.T) {
	_, dash, _ := apiGateway(t, "")
	for query, want := range map[string]string{
		"last=x":                 "last: want a number of points from 0 to 900",
		"last=901":               "last: want a number of points from 0 to 900",
		"limit=0":                "limit: want a number of series from 1 to 200",
		"limit=201":              "limit: want a number of series from 1 to 200",
		"since=yesterday":        "since: want Unix seconds",
		"since=-1":               "since: want Unix seconds",
		"page_token=%25%25":      "page_token: not a token this gateway gave",
		"page_token=bm90IGpzb24": "page_token: not a token this gateway gave",
		"application=a":          "application: unknown parameter; the parameters are app, deployment, last, since, limit, page_token",
	} {
		code, _, body := servetest.Call(t, http.MethodGet, dash+"/api/gantry/timeseries?"+query, "", "")
		if code != http.StatusBadRequest || !strings.Contains(body, want) {
			t.Errorf("?%s: %d %q, want 400 with %q", query, code, body, want)
		}
	}
}

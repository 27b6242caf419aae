package admin_test

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/admin"
	"gantry.dev/gantry/serve/servetest"
)

func oneReplicaGateway(t *testing.T) (srv *serve.Server, ingress, dashboard string) {
	t.Helper()
	srv, ingress = servetest.GatewayWith(t, `
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    num_replicas: 1
    replica: {command: [TESTREPLICA]}
`)
	servetest.WaitRoute(t, ingress+"/id")
	return srv, ingress, "http://" + srv.DashboardAddr()
}

// timeseriesPage is the body of GET /api/gantry/timeseries.
type timeseriesPage struct {
	Series        []admin.Series `json:"series"`
	NextPageToken *string        `json:"next_page_token"`
}

// series decodes the page of s that q selects.
func series(t *testing.T, s *admin.Sampler, q admin.TimeseriesQuery) []admin.Series {
	t.Helper()
	var p timeseriesPage
	if err := json.Unmarshal(s.Page(q), &p); err != nil || p.NextPageToken == nil {
		t.Fatalf("Page(%+v): %v, next_page_token %v", q, err, p.NextPageToken)
	}
	return p.Series
}

func TestSamplerTurnsCountersIntoRatesAndPercentiles(t *testing.T) {
	srv, ingress, _ := oneReplicaGateway(t)
	now := time.Unix(1_800_000_000, 0)
	s := &admin.Sampler{Snapshot: srv.Controller().Snapshot, Traffic: srv.Controller().Traffic, Now: func() time.Time { return now }}
	s.Sample() // the baseline: no point yet
	if got := series(t, s, admin.TimeseriesQuery{App: "app", Deployment: "d"}); len(got) != 1 || len(got[0].Points) != 0 {
		t.Fatalf("after one sample: %+v; want the series with no point", got)
	}
	for range 10 {
		servetest.GetBody(t, ingress+"/slow?ms=20")
	}
	testenv.TryGet(ingress + "/exit?code=0") // a 502: the replica dies answering
	now = now.Add(2 * time.Second)
	s.Sample()
	pts := series(t, s, admin.TimeseriesQuery{App: "app", Deployment: "d"})[0].Points
	if len(pts) != 1 {
		t.Fatalf("points = %+v", pts)
	}
	p := pts[0]
	if p.RPS != 5.5 || p.ErrorsPS != 0.5 {
		t.Errorf("rps = %v, errors/s = %v; want 11 requests and 1 error over 2 s", p.RPS, p.ErrorsPS)
	}
	// Every request but the last slept 20 ms; buckets are 25% wide.
	if p.P50Ms == nil || *p.P50Ms < 16 || p.P99Ms == nil || *p.P99Ms < *p.P50Ms {
		t.Errorf("p50 = %v ms, p99 = %v ms; want p50 about 20 ms and p99 >= p50", deref(p.P50Ms), deref(p.P99Ms))
	}
	if p.T != 1_800_000_002 || p.Target != 1 {
		t.Errorf("point = %+v", p)
	}
	now = now.Add(time.Second)
	s.Sample()
	if q := series(t, s, admin.TimeseriesQuery{})[0].Points[1]; q.RPS != 0 || q.P50Ms != nil {
		t.Errorf("a second without requests = %+v; want rps 0 and no percentiles", q)
	}
	if got := series(t, s, admin.TimeseriesQuery{App: "app", Deployment: "other"}); len(got) != 0 {
		t.Errorf("a filter that matches nothing gave %+v", got)
	}
	if got := series(t, s, admin.TimeseriesQuery{Last: 1})[0].Points; len(got) != 1 || got[0].T != 1_800_000_003 {
		t.Errorf("last=1 gave %+v", got)
	}
}

func TestSeriesKeepFifteenMinutes(t *testing.T) {
	srv, _, _ := oneReplicaGateway(t)
	now := time.Unix(1_800_000_000, 0)
	s := &admin.Sampler{Snapshot: srv.Controller().Snapshot, Traffic: srv.Controller().Traffic, Now: func() time.Time { return now }}
	for range admin.SeriesPoints + 51 {
		s.Sample()
		now = now.Add(time.Second)
	}
	pts := series(t, s, admin.TimeseriesQuery{App: "app", Deployment: "d"})[0].Points
	if len(pts) != admin.SeriesPoints || pts[0].T != 1_800_000_051 || pts[len(pts)-1].T != 1_800_000_950 {
		t.Errorf("%d points from %v to %v; want the last %d, oldest first", len(pts), pts[0].T, pts[len(pts)-1].T, admin.SeriesPoints)
	}
}

func TestDashboardEndpoints(t *testing.T) {
	srv, ingress, dashboard := oneReplicaGateway(t)
	rep := servetest.Running(t, srv, 1)[0]

	// The live sampler feeds /api/gantry/timeseries once a second.
	servetest.GetBody(t, ingress+"/id")
	var page timeseriesPage
	if !testenv.Eventually(10*time.Second, func() bool {
		_, _, body := servetest.Call(t, http.MethodGet, dashboard+"/api/gantry/timeseries?app=app&deployment=d", "", "")
		return json.Unmarshal([]byte(body), &page) == nil && len(page.Series) == 1 && len(page.Series[0].Points) > 0
	}) {
		t.Fatalf("no time series: %+v", page)
	}
	series := page.Series
	if code, _, body := servetest.Call(t, http.MethodGet, dashboard+"/api/gantry/timeseries?last=x", "", ""); code != 400 || !strings.Contains(body, "last") {
		t.Errorf("?last=x: %d %s", code, body)
	}
	newest := series[0].Points[len(series[0].Points)-1].T
	var after timeseriesPage
	_, _, body := servetest.Call(t, http.MethodGet, dashboard+"/api/gantry/timeseries?since="+strconv.FormatFloat(newest, 'f', -1, 64), "", "")
	if json.Unmarshal([]byte(body), &after) != nil || len(after.Series) != 1 {
		t.Fatalf("?since=: %s", body)
	}
	for _, p := range after.Series[0].Points {
		if p.T <= newest {
			t.Errorf("?since=%v gave the older point %+v", newest, p)
		}
	}
	if code, _, _ := servetest.Call(t, http.MethodGet, dashboard+"/api/gantry/timeseries?since=yesterday", "", ""); code != 400 {
		t.Errorf("?since=yesterday: %d, want 400", code)
	}

	// Logs: the replica's last lines.
	var logs struct {
		Replica string   `json:"replica"`
		Lines   []string `json:"lines"`
	}
	if !testenv.Eventually(10*time.Second, func() bool {
		_, _, body := servetest.Call(t, http.MethodGet, dashboard+"/api/gantry/logs?replica="+url.QueryEscape(rep.ID), "", "")
		return json.Unmarshal([]byte(body), &logs) == nil && strings.Contains(strings.Join(logs.Lines, "\n"), "replica listening")
	}) {
		t.Fatalf("logs of %s = %+v; want the replica's start line", rep.ID, logs)
	}
	for q, want := range map[string]int{"": 400, "replica=nope": 404, "replica=" + url.QueryEscape(rep.ID) + "&lines=5000": 400} {
		if code, _, body := servetest.Call(t, http.MethodGet, dashboard+"/api/gantry/logs?"+q, "", ""); code != want {
			t.Errorf("logs?%s: %d %s, want %d", q, code, body, want)
		}
	}

	// Validate: every problem with its path; nothing applied.
	code, _, body := servetest.Call(t, http.MethodPost, dashboard+"/api/gantry/validate", "",
		"applications:\n- name: x\n  deployments:\n  - name: d\n    max_ongoing_requests: -4\n    colour: blue\n")
	var v admin.ValidateResult
	if code != 200 || json.Unmarshal([]byte(body), &v) != nil || v.Valid || len(v.Problems) < 2 {
		t.Fatalf("validate: %d %s", code, body)
	}
	paths := map[string]bool{}
	for _, p := range v.Problems {
		paths[p.Path] = true
	}
	if !paths["applications[0].deployments[0].colour"] || !paths["applications[0].deployments[0].max_ongoing_requests"] {
		t.Errorf("problems = %+v; want the colour and max_ongoing_requests paths", v.Problems)
	}
	if apps := srv.Controller().Snapshot().Applications; len(apps) != 1 || apps[0].Name != "app" {
		t.Errorf("validate changed what runs: %+v", apps)
	}
	code, _, body = servetest.Call(t, http.MethodPost, dashboard+"/api/gantry/validate", "",
		"applications:\n- name: x\n  deployments:\n  - name: d\n    replica: {command: [./server]}\n")
	if code != 200 || !strings.Contains(body, `"valid":true`) {
		t.Errorf("a valid config: %d %s", code, body)
	}

	// Try: the ingress, through the dashboard port.
	code, hdr, body := servetest.Call(t, http.MethodPost, dashboard+"/api/gantry/try/echo?q=1", "", "hello")
	var echo struct {
		Method, Path, Query, Body, Replica string
	}
	if code != 200 || json.Unmarshal([]byte(body), &echo) != nil || echo.Path != "/echo" || echo.Query != "q=1" ||
		echo.Body != "hello" || echo.Replica != rep.ID || hdr.Get("X-Request-Id") == "" {
		t.Errorf("try: %d %v %s", code, hdr, body)
	}
	if code, _, body := servetest.Call(t, http.MethodGet, dashboard+"/api/gantry/try/-/routes", "", ""); code != 200 || !strings.Contains(body, `"/":"app"`) {
		t.Errorf("try /-/routes: %d %s", code, body)
	}

	// TPU: none in this config.
	code, _, body = servetest.Call(t, http.MethodGet, dashboard+"/api/gantry/tpu", "", "")
	if code != 200 || body != "{\"worker_groups\":[],\"pending\":[]}\n" {
		t.Errorf("tpu: %d %q", code, body)
	}

	// The page and its modules, with relative URLs only.
	code, hdr, body = servetest.Call(t, http.MethodGet, dashboard+"/", "", "")
	if code != 200 || !strings.HasPrefix(hdr.Get("Content-Type"), "text/html") || !strings.Contains(body, `src="app.js"`) {
		t.Errorf("GET /: %d %v", code, hdr)
	}
	if strings.Contains(body, `="/`) || strings.Contains(body, "http://") || strings.Contains(body, "https://") {
		t.Errorf("the page has an absolute URL: %s", body)
	}
	code, hdr, _ = servetest.Call(t, http.MethodGet, dashboard+"/app.js", "", "")
	if code != 200 || !strings.Contains(hdr.Get("Content-Type"), "javascript") {
		t.Errorf("GET /app.js: %d %v", code, hdr)
	}
	if code, _, _ := servetest.Call(t, http.MethodGet, dashboard+"/metrics", "", ""); code != 200 {
		t.Errorf("/metrics: %d; the dashboard must not shadow it", code)
	}
}

func TestDashboardChangesNeedTheToken(t *testing.T) {
	_, dashboard, _ := apiGateway(t, "s3cret")
	for _, path := range []string{"/api/gantry/validate", "/api/gantry/try/x"} {
		if code, _, _ := servetest.Call(t, http.MethodPost, dashboard+path, "", "applications: []"); code != http.StatusUnauthorized {
			t.Errorf("POST %s without the token: %d, want 401", path, code)
		}
	}
	if code, _, body := servetest.Call(t, http.MethodPost, dashboard+"/api/gantry/validate", "s3cret", "applications: []"); code != 200 || !strings.Contains(body, "valid") {
		t.Errorf("validate with the token: %d %s", code, body)
	}
	for _, path := range []string{"/", "/api/gantry/events", "/api/gantry/timeseries", "/api/gantry/tpu"} {
		if code, _, _ := servetest.Call(t, http.MethodGet, dashboard+path, "", ""); code != 200 {
			t.Errorf("GET %s without the token: %d; reads stay open", path, code)
		}
	}
}

func deref(p *float64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestLogFollowStreamsNewLinesUntilTheReplicaIsGone(t *testing.T) {
	srv, _, dashboard := oneReplicaGateway(t)
	rep := servetest.Running(t, srv, 1)[0]
	resp, err := http.Get(dashboard + "/api/gantry/logs?follow=1&replica=" + url.QueryEscape(rep.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("follow: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	got := make(chan string, 100)
	go func() {
		defer close(got)
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			got <- sc.Text()
		}
	}()
	next := func(want string) {
		t.Helper()
		deadline := time.After(30 * time.Second)
		for {
			select {
			case l, ok := <-got:
				if !ok {
					t.Fatalf("the stream ended before %q", want)
				}
				if strings.Contains(l, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q within 30s", want)
			}
		}
	}
	next("replica listening") // the lines it already wrote
	// Scaling to zero stops it: it writes its last lines as it drains, then is gone.
	cfg, err := config.Parse([]byte(servetest.WithTestReplica("applications:\n- name: app\n  route_prefix: /\n  deployments:\n  - name: d\n    num_replicas: 0\n    replica: {command: [TESTREPLICA]}\n")))
	if err != nil {
		t.Fatal(err)
	}
	servetest.Apply(t, srv, cfg)
	next("testreplica: clean exit")
	next("event: end")
	for range got { // and the stream closes
	}
}

package reliability

import (
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/testenv"
)

// adminCall sends method url with body, and Host and Origin when not
// empty, and reads the answer.
func adminCall(t *testing.T, method, url, host, origin, body string) testenv.Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return testenv.Do(t, req)
}

// oneApp is a JSON config of app/d at /app (the deployment under attack:
// two test replicas) plus an application named name at /other whose
// deployment has userConfig (JSON) and no replica.
func oneApp(name, userConfig string) string {
	return `{"applications":[
{"name":"app","route_prefix":"/app","deployments":[{"name":"d","num_replicas":2,"max_ongoing_requests":2,
  "replica":{"command":[` + strconv.Quote(testreplicaPath()) + `]}}]},
{"name":` + strconv.Quote(name) + `,"route_prefix":"/other","deployments":[{"name":"d","num_replicas":0,
  "replica":{"command":[` + strconv.Quote(testreplicaPath()) + `]},"user_config":` + userConfig + `}]}]}`
}

// Findings 4 (user_config), 7 and 8, on the admin API while a normal
// client uses app: a user_config nested 9,990 deep (which made applied.json
// 200 MB and RSS about 1 GB) is refused with 400 naming the field and the
// depth limit; an application name over the limit (which passed, then
// failed when its log file was created) is refused with 400 naming the
// limit; without a token, a request with a foreign Host (DNS rebinding) and
// a cross-origin write are refused with 403. None of them changes the
// applied config.
func TestAdminAPIRefusesHostileConfigsAndBrowsers(t *testing.T) {
	g := startGateway(t, twoReplicas("", ""))
	g.waitRunning(t, "app", "d", 2, "/app/id")
	api := g.dashboardURL + "/api/serve/applications/"
	port := g.dashboardURL[strings.LastIndex(g.dashboardURL, ":")+1:]
	before := appNames(g.status(t))

	g.replay(t, "4, 7, 8: hostile configs and browsers on the admin API", "/app/id", func(t *testing.T) string {
		var got []string
		nested := strings.Repeat(`{"a":`, 9990) + "1" + strings.Repeat("}", 9990)
		r := testenv.Call(t, http.MethodPut, api, oneApp("other", nested))
		if r.Code != http.StatusBadRequest || !strings.Contains(r.Body, "applications[1].deployments[0].user_config") ||
			!strings.Contains(r.Body, strconv.Itoa(config.MaxUserConfigDepth)) {
			t.Errorf("PUT of a user_config nested 9,990 deep: %d %.300q; want 400 naming user_config and the limit %d",
				r.Code, r.Body, config.MaxUserConfigDepth)
		}
		got = append(got, fmt.Sprintf("deep user_config %d", r.Code))

		r = testenv.Call(t, http.MethodPut, api, oneApp(strings.Repeat("a", 300), "{}"))
		want := fmt.Sprintf("applications[1].name: at most %d bytes", config.MaxNameBytes)
		if r.Code != http.StatusBadRequest || !strings.Contains(r.Body, want) || !strings.Contains(r.Body, "got 300") {
			t.Errorf("PUT of a 300-byte application name: %d %q; want 400 with %q", r.Code, r.Body, want)
		}
		got = append(got, fmt.Sprintf("300-byte name %d", r.Code))

		r = adminCall(t, http.MethodGet, api, "evil.example:"+port, "", "")
		if r.Code != http.StatusForbidden || !strings.Contains(r.Body, "--admin-token") {
			t.Errorf("GET with Host evil.example: %d %q; want 403 naming --admin-token", r.Code, r.Body[:min(len(r.Body), 300)])
		}
		got = append(got, fmt.Sprintf("Host evil.example %d", r.Code))

		r = adminCall(t, http.MethodPut, api, "evil.example:"+port, "http://evil.example:"+port, oneApp("other", "{}"))
		if r.Code != http.StatusForbidden {
			t.Errorf("PUT through a rebound name: %d %q; want 403", r.Code, r.Body)
		}
		got = append(got, fmt.Sprintf("rebound PUT %d", r.Code))

		r = adminCall(t, http.MethodPut, api, "", "http://evil.example", oneApp("other", "{}"))
		if r.Code != http.StatusForbidden || !strings.Contains(r.Body, "cross-origin") {
			t.Errorf("PUT with Origin http://evil.example: %d %q; want 403 naming the cross-origin write", r.Code, r.Body)
		}
		got = append(got, fmt.Sprintf("Origin evil.example PUT %d", r.Code))

		if after := appNames(g.status(t)); !slices.Equal(after, before) {
			t.Errorf("the refused requests changed the applications from %v to %v", before, after)
		}
		return strings.Join(got, ", ")
	})
}

// appNames lists the applications in a status, sorted.
func appNames(s applications) []string {
	return slices.Sorted(maps.Keys(s.Applications))
}

package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// A request to a deployment that will have no replica soon is answered at
// once with 503, Retry-After and the reason, by a real `gantry serve` whose
// replica is a real process that exits with status 3 at once (issue 14,
// finding 5). request_timeout_s is 60 s and the client gives up after 5 s:
// a request left queueing fails the test; no timing is asserted.
func TestRequestsToADeploymentWithNoReplicaComingFailAtOnce(t *testing.T) {
	g := startGateway(t, writeConfig(t, `
http_options:
  request_timeout_s: 60
applications:
- name: broken
  route_prefix: /broken
  deployments:
  - name: d
    replica:
      command: [sh, -c, "echo the model file is missing; exit 3"]
- name: empty
  route_prefix: /empty
  deployments:
  - name: d
    num_replicas: 0
    replica:
      command: [sh, -c, "exit 3"]
`))
	g.until(t, 30*time.Second, "the dashboard to answer", func() bool {
		code, _, err := testenv.TryGet(g.dashboardURL + "/-/healthz")
		return err == nil && code == 200
	})
	g.until(t, 60*time.Second, "broken/d DEPLOY_FAILED", func() bool {
		return gantryStatus(t, g).Applications["broken"].Deployments["d"].Status == "DEPLOY_FAILED"
	})

	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/broken/x", []string{"deployment broken/d is DEPLOY_FAILED: ", "exited with exit status 3 before becoming healthy",
			"; no replica will start until the config changes"}},
		{"/empty/x", []string{"deployment empty/d has num_replicas: 0 and no autoscaling_config"}},
	} {
		code, header, body, err := getWithin(g.url+tc.path, 5*time.Second)
		if err != nil {
			t.Errorf("GET %s: %v (it should have been answered at once)", tc.path, err)
			continue
		}
		if code != http.StatusServiceUnavailable || header.Get("Retry-After") == "" {
			t.Errorf("GET %s: %d, Retry-After %q; want 503 with Retry-After\n%s", tc.path, code, header.Get("Retry-After"), body)
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: body %q lacks %q", tc.path, body, w)
			}
		}
		if strings.Contains(body, "the model file is missing") {
			t.Errorf("GET %s: the replica's log reached the client: %q", tc.path, body)
		}
	}
}

// getWithin sends GET url, giving up after within.
func getWithin(url string, within time.Duration) (int, http.Header, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), within)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, nil, "", err
	}
	resp, err := (&http.Transport{DisableKeepAlives: true}).RoundTrip(req)
	if err != nil {
		return 0, nil, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

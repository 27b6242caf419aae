package ingress_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/servetest"
)

func TestAccessLogHasALinePerRequest(t *testing.T) {
	cfg, err := config.Parse([]byte(servetest.WithTestReplica(`
applications:
- name: app
  route_prefix: /api
  deployments:
  - name: d
    num_replicas: 1
    replica: {command: [TESTREPLICA]}
`)))
	if err != nil {
		t.Fatal(err)
	}
	var out testenv.SyncBuffer
	srv := servetest.Start(t, serve.Options{Config: cfg, AccessLog: &out, AccessLogJSON: true})
	url := "http://" + srv.HTTPAddr()
	servetest.WaitRoute(t, url+"/api/id")
	rep := servetest.Running(t, srv, 1)[0]

	req, _ := http.NewRequest(http.MethodPost, url+"/api/echo?x=1", strings.NewReader("hi"))
	req.Header.Set("X-Request-Id", "access-log-test-1")
	req.Header.Set("Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var line map[string]any
	if !testenv.Eventually(10*time.Second, func() bool {
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.Contains(l, "access-log-test-1") {
				return json.Unmarshal([]byte(l), &line) == nil
			}
		}
		return false
	}) {
		t.Fatalf("no access log line for the request; the log has:\n%s", out.String())
	}
	want := map[string]any{
		"msg": "access", "application": "app", "deployment": "d", "replica": rep.ID, "method": "POST",
		"path": "/api/echo", "status": float64(200), "request_id": "access-log-test-1",
		"trace_id": "0af7651916cd43dd8448eb211c80319c",
	}
	for k, v := range want {
		if line[k] != v {
			t.Errorf("access log %s = %v, want %v (line %v)", k, line[k], v, line)
		}
	}
	if d, ok := line["duration_ms"].(float64); !ok || d <= 0 {
		t.Errorf("duration_ms = %v, want a positive number", line["duration_ms"])
	}

	// A request no route matches is not an application's: no line.
	testenv.TryGet(url + "/nowhere")
	resp, _ = http.Get(url + "/api/id")
	resp.Body.Close()
	if !testenv.Eventually(10*time.Second, func() bool { return strings.Count(out.String(), `"msg":"access"`) >= 3 }) {
		t.Fatalf("want a line for each routed request; log:\n%s", out.String())
	}
	if strings.Contains(out.String(), "/nowhere") {
		t.Errorf("an unrouted request was logged: %s", out.String())
	}
}

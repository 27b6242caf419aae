package router

import (
	"bufio"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// callGateway serves handle calls to d on a real listener: every request
// is a Call, whatever its path (the handle endpoint in package serve picks
// the deployment from the path).
func callGateway(t *testing.T, d *Deployment) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.Call(w, r, "req-1")
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestCallGoesToTheCallPathWithItsHeadersAndStreamsBack(t *testing.T) {
	seen := make(chan *http.Request, 1)
	rep, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(strings.NewReader(string(body)))
		seen <- r
		// A streaming answer: frames flushed one by one.
		for _, frame := range []string{"one;", "two;", string(body)} {
			io.WriteString(w, frame)
			w.(http.Flusher).Flush()
		}
	})
	reg := prometheus.NewRegistry()
	d := NewDeployment("app", "Model", Settings{MaxOngoingRequests: 2, MaxQueuedRequests: -1}, NewMetrics(reg))
	d.SetReplicas([]*Replica{rep})
	url := callGateway(t, d)

	req, _ := http.NewRequest("POST", url+"/app/Model", strings.NewReader("pickled-args"))
	req.Header.Set("Authorization", "Bearer secret")
	req.Header.Set("Gantry-Method", "generate")
	req.Header.Set("Gantry-Stream", "1")
	req.Header.Set(MultiplexedModelHeader, "m1")
	req.Header.Set("Content-Type", "application/x-gantry-pickle")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first, err := br.ReadString(';')
	if err != nil || first != "one;" {
		t.Fatalf("first frame %q, %v", first, err)
	}
	rest, _ := io.ReadAll(br)
	if resp.StatusCode != 200 || !strings.HasSuffix(string(rest), "two;pickled-args") {
		t.Errorf("answer %d %q", resp.StatusCode, rest)
	}
	got := <-seen
	if got.URL.Path != CallPath || got.Method != "POST" {
		t.Errorf("replica saw %s %s, want POST %s", got.Method, got.URL.Path, CallPath)
	}
	if got.Header.Get("Authorization") != "" {
		t.Error("the handle token reached the replica")
	}
	for k, want := range map[string]string{
		"Gantry-Method": "generate", "Gantry-Stream": "1", MultiplexedModelHeader: "m1",
		"Content-Type": "application/x-gantry-pickle", "X-Request-Id": "req-1",
	} {
		if v := got.Header.Get(k); v != want {
			t.Errorf("replica saw %s: %q, want %q", k, v, want)
		}
	}
	if v := testutil.ToFloat64(d.metrics.m.requests.WithLabelValues("app", "Model", "200")); v != 1 {
		t.Errorf("gantry_requests_total{app,Model,200} = %v, want 1", v)
	}
}

package reliability

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// Finding 5: a request to an application whose deployment is DEPLOY_FAILED
// with no replica, or has num_replicas 0 and no autoscaling, waited with no
// answer (66 minutes with the default request_timeout_s). Replayed with 20
// requests to each, over HTTP with a client timeout of 2 s and over gRPC:
// each is answered 503 with Retry-After and the reason (UNAVAILABLE on
// gRPC), while app's normal client goes on. The latency is recorded.
func TestRequestsToDeploymentsWithNoReplicaComingFailAtOnce(t *testing.T) {
	g := startGateway(t, twoReplicas("", "")+`
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
      command: [TESTREPLICA]
`)
	g.waitRunning(t, "app", "d", 2, "/app/id")
	g.until(t, 60*time.Second, "broken/d DEPLOY_FAILED", func() bool {
		return g.status(t).Applications["broken"].Deployments["d"].Status == "DEPLOY_FAILED"
	})
	infer := inferenceClient(t, g)

	g.replay(t, "5: requests to DEPLOY_FAILED and num_replicas 0", "/app/id", func(t *testing.T) string {
		client := &http.Client{Timeout: 2 * time.Second}
		var took figures
		for _, tc := range []struct{ app, reason string }{
			{"broken", "deployment broken/d is DEPLOY_FAILED: "},
			{"empty", "deployment empty/d has num_replicas: 0 and no autoscaling_config"},
		} {
			for range 20 {
				start := time.Now()
				resp, err := client.Get(g.url + "/" + tc.app + "/id")
				if err != nil {
					t.Fatalf("GET /%s/id: %v (it should have been answered at once)", tc.app, err)
				}
				body := readAll(resp)
				took.latency = append(took.latency, time.Since(start))
				if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(body, tc.reason) {
					t.Fatalf("GET /%s/id: %s, Retry-After %q, %q; want 503 with Retry-After and %q",
						tc.app, resp.Status, resp.Header.Get("Retry-After"), body, tc.reason)
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, err := infer.ModelInfer(ctx, inferRequest(tc.app, []byte("x")))
			cancel()
			if status.Code(err) != codes.Unavailable || !strings.Contains(status.Convert(err).Message(), tc.reason) {
				t.Errorf("gRPC ModelInfer of %s: %v; want UNAVAILABLE with %q", tc.app, err, tc.reason)
			}
		}
		return fmt.Sprintf("40× 503 with Retry-After and the reason (p50 %s, p99 %s); UNAVAILABLE on gRPC",
			ms(took.quantile(0.5)), ms(took.quantile(0.99)))
	})
}

package router

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"gantry.dev/gantry/internal/testenv"
	pb "gantry.dev/gantry/oip/inferencepb"
)

const failedReason = "deployment app/d is DEPLOY_FAILED: replica app#d#1 exited with exit status 3; no replica will start until the config changes"

// A deployment the controller marked unavailable (no replica, none coming)
// answers at once: 503 with Retry-After and the reason over HTTP,
// UNAVAILABLE with the reason over gRPC, counted as 503. The client's
// timeout is far below request_timeout_s, so a request left queueing
// fails the test.
func TestUnavailableDeploymentAnswersAtOnce(t *testing.T) {
	reg := prometheus.NewRegistry()
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: -1, RequestTimeout: time.Minute}, NewMetrics(reg))
	d.SetUnavailable(failedReason)
	url := gateway(t, d, "/")

	a := getWithin(url+"/x", 5*time.Second)
	if a.err != nil || a.code != http.StatusServiceUnavailable || a.header.Get("Retry-After") == "" || strings.TrimSpace(a.body) != failedReason {
		t.Errorf("GET: %d Retry-After=%q %q %v; want 503 with Retry-After and the reason", a.code, a.header.Get("Retry-After"), a.body, a.err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := d.Infer(ctx, &pb.ModelInferRequest{ModelName: "app"})
	if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != failedReason {
		t.Errorf("Infer: %v; want UNAVAILABLE with the reason", err)
	}
	if n := count(t, d, "503"); n != 2 {
		t.Errorf("gantry_requests_total{code=503} = %v, want 2", n)
	}
	if d.Queued() != 0 {
		t.Errorf("%d requests queued", d.Queued())
	}
}

// Requests already waiting when the deployment becomes unavailable are
// answered at once too; once cleared (a replica is starting), requests
// queue again and the replica that joins serves them.
func TestUnavailableFailsTheQueueAndClearsForANewReplica(t *testing.T) {
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: -1, RequestTimeout: time.Minute}, nil)
	url := gateway(t, d, "/")

	got := make(chan answer, 2)
	for range 2 {
		go func() { got <- getWithin(url+"/x", 5*time.Second) }()
	}
	testenv.WaitFor(t, 5*time.Second, "two requests queued", func() bool { return d.Queued() == 2 })
	d.SetUnavailable(failedReason)
	for range 2 {
		if a := <-got; a.err != nil || a.code != http.StatusServiceUnavailable || strings.TrimSpace(a.body) != failedReason {
			t.Errorf("queued request: %d %q %v; want 503 with the reason", a.code, a.body, a.err)
		}
	}

	d.SetUnavailable("")
	go func() { got <- getWithin(url+"/x", 5*time.Second) }()
	testenv.WaitFor(t, 5*time.Second, "a request queued again", func() bool { return d.Queued() == 1 })
	rep, _ := upstream(t, func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok")) })
	d.SetReplicas([]*Replica{rep})
	if a := <-got; a.err != nil || a.code != http.StatusOK {
		t.Errorf("request queued after the reason was cleared: %d %q %v; want 200", a.code, a.body, a.err)
	}
}

package router

import (
	"bufio"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"gantry.dev/gantry/internal/testenv"
	pb "gantry.dev/gantry/oip/inferencepb"
)

// The attempt engine's verdicts, through real parts: a real gateway
// listener, real replicas, raw TCP clients where a client must misbehave.

// rawRequest writes req on a new connection to the gateway at url, then
// either closes the connection at once (hangUp) or reads the response's
// status line and returns its code.
func rawRequest(t *testing.T, url, req string, hangUp bool) int {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	if hangUp {
		return 0
	}
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("reading the gateway's answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func count(t *testing.T, d *Deployment, code string) float64 {
	t.Helper()
	return testutil.ToFloat64(d.metrics.m.requests.WithLabelValues(d.app, d.name, code))
}

// A client whose streamed body is malformed or cut off by its leaving is
// at fault: the replica's breaker (tripped by one failure here) counts
// nothing, no retry is spent, and the status is the client's: 400, or 499
// when it left. Ten malformed bodies in a row (issue 14's attack: a chunk
// length "ZZZ") still leave the replica in the pool, and the next normal
// request is served at once.
func TestClientBodyFailureIsNotTheReplicasFault(t *testing.T) {
	for _, tc := range []struct {
		name   string
		body   string
		hangUp bool
		times  int
		want   int
	}{
		{"malformed chunk", "5\r\nhello\r\nzz\r\n", false, 1, http.StatusBadRequest},
		{"ten malformed chunk lengths", "ZZZ\r\n", false, 10, http.StatusBadRequest},
		{"client left mid-body", "5\r\nhello\r\n", true, 1, StatusClientClosed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rep, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) { io.Copy(io.Discard, r.Body) })
			rep.breaker = newBreaker("r", 1, time.Hour, nil)
			reg := prometheus.NewRegistry()
			d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1, Idempotent: true, RequestTimeout: 3 * time.Second}, NewMetrics(reg))
			d.SetReplicas([]*Replica{rep})
			url := gateway(t, d, "/")
			for range tc.times {
				code := rawRequest(t, url, "POST /x HTTP/1.1\r\nHost: g\r\nTransfer-Encoding: chunked\r\n\r\n"+tc.body, tc.hangUp)
				if !tc.hangUp && code != tc.want {
					t.Errorf("status %d, want %d", code, tc.want)
				}
			}
			testenv.WaitFor(t, 5*time.Second, "the requests counted in gantry_requests_total", func() bool {
				return count(t, d, "400")+count(t, d, "499")+count(t, d, "502") == float64(tc.times)
			})
			if n := count(t, d, strconv.Itoa(tc.want)); n != float64(tc.times) {
				t.Errorf("gantry_requests_total{code=%d} = %v, want %d", tc.want, n, tc.times)
			}
			if rep.breaker.tripped() || !rep.Available(5) {
				t.Error("the client's broken body tripped the replica's breaker")
			}
			if n := testutil.CollectAndCount(d.metrics.m.retries); n != 0 {
				t.Errorf("%d retries counted for a client's fault", n)
			}
			// request_timeout_s is 3 s and the client waits 2 s: a next
			// request left queueing behind an open breaker fails here.
			if a := getWithin(url+"/y", 2*time.Second); a.err != nil || a.code != http.StatusOK {
				t.Errorf("the next request got %d %v, want 200 at once", a.code, a.err)
			}
		})
	}
}

// ModelMetadata goes through the engine like any request: it is counted
// in the metrics, by the code its outcome corresponds to.
func TestModelMetadataIsCountedInTheMetrics(t *testing.T) {
	rep := grpcReplica(t, "r", echoInfer("r")) // implements no ModelMetadata
	reg := prometheus.NewRegistry()
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, NewMetrics(reg))
	d.SetReplicas([]*Replica{rep})
	_, err := d.ModelMetadata(context.Background(), &pb.ModelMetadataRequest{Name: "app"})
	if status.Code(err) != codes.Unimplemented {
		t.Fatalf("ModelMetadata: %v, want UNIMPLEMENTED", err)
	}
	if n := count(t, d, "501"); n != 1 {
		t.Errorf("gantry_requests_total{code=501} = %v, want 1", n)
	}
	if rep.breaker.failing.Load() != 0 {
		t.Error("a replica's UNIMPLEMENTED answer counted against its breaker")
	}
}

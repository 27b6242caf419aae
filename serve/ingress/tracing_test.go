package ingress_test

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/ingress"
	"gantry.dev/gantry/serve/servetest"
)

// receiver is an in-process OTLP collector: it keeps every span exported
// to it, over gRPC (TraceService/Export) or OTLP/HTTP (POST /v1/traces).
type receiver struct {
	collectortrace.UnimplementedTraceServiceServer
	mu    sync.Mutex
	spans []*tracepb.Span
}

func (rc *receiver) Export(_ context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	for _, rs := range req.ResourceSpans {
		for _, ss := range rs.ScopeSpans {
			rc.spans = append(rc.spans, ss.Spans...)
		}
	}
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var req collectortrace.ExportTraceServiceRequest
	if r.URL.Path != "/v1/traces" || proto.Unmarshal(b, &req) != nil {
		http.Error(w, "want an OTLP protobuf export at /v1/traces", http.StatusBadRequest)
		return
	}
	resp, _ := rc.Export(r.Context(), &req)
	out, _ := proto.Marshal(resp)
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (rc *receiver) named(name string) []*tracepb.Span {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	var out []*tracepb.Span
	for _, s := range rc.spans {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

// startReceiver serves rc over protocol on a free loopback port and sets
// the OTEL_EXPORTER_OTLP_* variables to point at it.
func startReceiver(t *testing.T, protocol string) *receiver {
	rc := &receiver{}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	switch protocol {
	case "grpc":
		gs := grpc.NewServer()
		collectortrace.RegisterTraceServiceServer(gs, rc)
		go gs.Serve(ln)
		t.Cleanup(gs.Stop)
	default:
		hs := &http.Server{Handler: rc, ReadHeaderTimeout: 5 * time.Second}
		go hs.Serve(ln)
		t.Cleanup(func() { hs.Close() })
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+ln.Addr().String())
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
	t.Setenv("OTEL_TRACES_EXPORTER", "")
	return rc
}

func attr(s *tracepb.Span, key string) any {
	for _, kv := range s.Attributes {
		if kv.Key == key {
			if _, ok := kv.Value.Value.(*commonpb.AnyValue_IntValue); ok {
				return kv.Value.GetIntValue()
			}
			return kv.Value.GetStringValue()
		}
	}
	return nil
}

func TestTracingExportsIngressQueueAndAttemptSpansAndTheReplicaSeesTheTrace(t *testing.T) {
	for _, protocol := range []string{"grpc", "http/protobuf"} {
		t.Run(protocol, func(t *testing.T) {
			rc := startReceiver(t, protocol)
			tp, shutdown, err := ingress.TracingFromEnv(context.Background())
			if err != nil || tp == nil {
				t.Fatalf("ingress.TracingFromEnv = %v, %v; want a provider", tp, err)
			}
			cfg, err := config.Parse([]byte(servetest.WithTestReplica(`
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    num_replicas: 1
    replica: {command: [TESTREPLICA]}
`)))
			if err != nil {
				t.Fatal(err)
			}
			srv := servetest.Start(t, serve.Options{Config: cfg, TracerProvider: tp})
			url := "http://" + srv.HTTPAddr()
			servetest.WaitRoute(t, url+"/echo")
			rep := servetest.Running(t, srv, 1)[0]

			const clientTrace, clientSpan = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"
			req, _ := http.NewRequest(http.MethodGet, url+"/echo", nil)
			req.Header.Set("Traceparent", "00-"+clientTrace+"-"+clientSpan+"-01")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			var echo struct {
				Headers map[string][]string `json:"headers"`
			}
			json.NewDecoder(resp.Body).Decode(&echo)
			resp.Body.Close()
			seen := strings.Split(first(echo.Headers["Traceparent"]), "-")
			if len(seen) != 4 || seen[1] != clientTrace {
				t.Fatalf("the replica saw traceparent %q; want trace id %s", echo.Headers["Traceparent"], clientTrace)
			}

			// A replica that rejects: every attempt is a span, numbered by retry.
			const rejectTrace = "5bf92f3577b34da6a3ce929d0e0e4737"
			req, _ = http.NewRequest(http.MethodGet, url+"/reject", nil)
			req.Header.Set("Traceparent", "00-"+rejectTrace+"-"+clientSpan+"-01")
			if resp, err = http.DefaultClient.Do(req); err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusServiceUnavailable {
				t.Fatalf("GET /reject: %d, want the last rejection's 503", resp.StatusCode)
			}

			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := shutdown(ctx); err != nil { // flushes the batch
				t.Fatalf("shutting down the tracer provider: %v", err)
			}
			if !testenv.Eventually(10*time.Second, func() bool { return len(rc.named("gantry.attempt")) > 0 }) {
				t.Fatal("no attempt span reached the receiver")
			}
			var ingress *tracepb.Span
			for _, s := range rc.named("GET /") {
				if hex.EncodeToString(s.TraceId) == clientTrace {
					ingress = s
				}
			}
			if ingress == nil {
				t.Fatalf("no ingress span in the client's trace; spans: %v", rc.spans)
			}
			if got := hex.EncodeToString(ingress.ParentSpanId); got != clientSpan {
				t.Errorf("ingress span's parent = %s, want the client's span %s", got, clientSpan)
			}
			if ingress.Kind != tracepb.Span_SPAN_KIND_SERVER || attr(ingress, "http.response.status_code") != int64(200) ||
				attr(ingress, "gantry.application") != "app" {
				t.Errorf("ingress span = %v", ingress)
			}
			child := func(name string) *tracepb.Span {
				for _, s := range rc.named(name) {
					if string(s.TraceId) == string(ingress.TraceId) && string(s.ParentSpanId) == string(ingress.SpanId) {
						return s
					}
				}
				t.Fatalf("no %s span with the ingress span as its parent", name)
				return nil
			}
			queue, att := child("gantry.queue"), child("gantry.attempt")
			if attr(queue, "gantry.replica.id") != rep.ID {
				t.Errorf("queue span = %v; want the replica it got, %s", queue, rep.ID)
			}
			if attr(att, "gantry.replica.id") != rep.ID || attr(att, "gantry.retry") != int64(0) ||
				attr(att, "http.response.status_code") != int64(200) || att.Kind != tracepb.Span_SPAN_KIND_CLIENT {
				t.Errorf("attempt span = %v", att)
			}
			if got := hex.EncodeToString(att.SpanId); seen[2] != got {
				t.Errorf("the replica's traceparent names parent %s; want the attempt span %s", seen[2], got)
			}

			retries := map[int64]bool{}
			for _, s := range rc.named("gantry.attempt") {
				if hex.EncodeToString(s.TraceId) == rejectTrace {
					retries[attr(s, "gantry.retry").(int64)] = true
					if attr(s, "http.response.status_code") != int64(503) || s.Status.GetCode() != tracepb.Status_STATUS_CODE_ERROR {
						t.Errorf("a rejected attempt's span = %v; want status 503 and an error", s)
					}
				}
			}
			if len(retries) != 3 || !retries[0] || !retries[1] || !retries[2] {
				t.Errorf("rejected request's attempts have retries %v; want 0, 1 and 2 (3 attempts)", retries)
			}
		})
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func TestTracingIsOffWithoutTheVariables(t *testing.T) {
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "")
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
	tp, _, err := ingress.TracingFromEnv(context.Background())
	if tp != nil || err != nil {
		t.Errorf("ingress.TracingFromEnv = %v, %v; want nil, nil", tp, err)
	}
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:4317")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "carrier-pigeon")
	if _, _, err := ingress.TracingFromEnv(context.Background()); err == nil || !strings.Contains(err.Error(), "OTEL_EXPORTER_OTLP_PROTOCOL") {
		t.Errorf("a bad protocol gave %v; want an error naming OTEL_EXPORTER_OTLP_PROTOCOL", err)
	}
}

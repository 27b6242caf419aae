package router

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/protobuf/proto"

	"gantry.dev/gantry/oip"
	pb "gantry.dev/gantry/oip/inferencepb"
)

// The router's own cost per request, over real sockets to a real replica
// (httptest or a gRPC server in process). The replica's allocations are in
// the figures too; they are the same before and after a router change, so
// a difference is the router's. Run: go test -run - -bench . -benchmem ./router/

// discardWriter is a ResponseWriter that keeps nothing but the header map.
type discardWriter struct{ h http.Header }

func (w *discardWriter) Header() http.Header         { return w.h }
func (w *discardWriter) Write(b []byte) (int, error) { return len(b), nil }
func (w *discardWriter) WriteHeader(int)             {}

func benchReplica(b *testing.B) *Replica {
	b.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "11")
		io.WriteString(w, `{"ok":true}`)
	}))
	b.Cleanup(srv.Close)
	rep := NewReplica("r", srv.Listener.Addr().String(), ReplicaOptions{})
	b.Cleanup(rep.Close)
	return rep
}

// benchForward forwards method with body (none if ""), sized (buffered
// by the router) or not (streamed).
func benchForward(b *testing.B, method, body string, sized bool) {
	d := NewDeployment("app", "dep", Settings{MaxOngoingRequests: 100, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{benchReplica(b)})
	w := &discardWriter{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		var rb io.Reader
		switch {
		case body != "" && sized:
			rb = strings.NewReader(body)
		case body != "":
			rb = io.NopCloser(strings.NewReader(body))
		}
		r := httptest.NewRequest(method, "/app/x", rb)
		r.RemoteAddr = "127.0.0.1:1234"
		clear(w.h)
		var out Outcome
		d.ForwardOutcome(w, r, "/app", "id", &out)
		if out.Status != 200 {
			b.Fatalf("status %d", out.Status)
		}
	}
}

func BenchmarkForwardGet(b *testing.B) { benchForward(b, http.MethodGet, "", false) }
func BenchmarkForwardPost(b *testing.B) {
	benchForward(b, http.MethodPost, `{"prompt":"a red fox"}`, true)
}
func BenchmarkForwardPostStreamed(b *testing.B) {
	benchForward(b, http.MethodPost, `{"prompt":"a red fox"}`, false)
}

func benchGRPCReplica(b *testing.B) *Replica {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterGRPCInferenceServiceServer(srv, &inferServer{f: echoInfer("r")})
	go srv.Serve(ln)
	rep := NewReplica("r", ln.Addr().String(), ReplicaOptions{Protocol: "grpc"})
	b.Cleanup(func() { rep.Close(); srv.Stop() })
	return rep
}

func BenchmarkInferFrameGRPC(b *testing.B) {
	d := NewDeployment("app", "dep", Settings{MaxOngoingRequests: 100, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{benchGRPCReplica(b)})
	in := &oip.Request{Inputs: []oip.Tensor{oip.BytesTensor("prompt", []byte("a red fox"))}}
	raw, _ := proto.Marshal(in.Proto("app", ""))
	f := &Frame{b: raw}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.InferFrame(ctx, f); err != nil {
			b.Fatal(err)
		}
	}
}

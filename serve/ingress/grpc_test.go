package ingress_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	reflectpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/grpc/status"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/deploy/local"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/internal/testgrpcreplica/echopb"
	"gantry.dev/gantry/oip"
	pb "gantry.dev/gantry/oip/inferencepb"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/ingress"
	"gantry.dev/gantry/serve/servetest"
)

// Tests of the gRPC port with Go's gRPC client over real sockets, against
// a real gateway and real replica processes.

// dialGateway connects a gRPC client to srv's gRPC port.
func dialGateway(t *testing.T, srv *serve.Server) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient("passthrough:///"+srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

func callCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func wantCode(t *testing.T, err error, want codes.Code, msgHas string) {
	t.Helper()
	st := status.Convert(err)
	if st.Code() != want || !strings.Contains(st.Message(), msgHas) {
		t.Fatalf("got %v %q, want %v with %q", st.Code(), st.Message(), want, msgHas)
	}
}

const twoGRPCApps = `
applications:
- name: echo
  route_prefix: null
  deployments:
  - name: echo
    replica: {command: [TESTGRPCREPLICA], protocol: grpc}
- name: other
  route_prefix: null
  deployments:
  - name: main
    replica: {command: [TESTGRPCREPLICA], protocol: grpc}
`

func TestGRPCReflectionHealthAndOIP(t *testing.T) {
	srv, _ := servetest.GatewayWith(t, twoGRPCApps)
	servetest.Running(t, srv, 2)
	cc := dialGateway(t, srv)
	ctx := callCtx(t)

	// Reflection lists the gateway's own services.
	rs, err := reflectpb.NewServerReflectionClient(cc).ServerReflectionInfo(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := rs.Send(&reflectpb.ServerReflectionRequest{MessageRequest: &reflectpb.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := rs.Recv()
	if err != nil {
		t.Fatal(err)
	}
	var services []string
	for _, s := range resp.GetListServicesResponse().GetService() {
		services = append(services, s.GetName())
	}
	for _, want := range []string{"inference.GRPCInferenceService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"} {
		if !slices.Contains(services, want) {
			t.Errorf("reflection lists %v, want %s among them", services, want)
		}
	}
	rs.CloseSend()

	// grpc.health.v1: the gateway and each application.
	health := healthpb.NewHealthClient(cc)
	for _, svc := range []string{"", "echo", "other"} {
		h, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || h.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health %q: %v, %v; want SERVING", svc, h.GetStatus(), err)
		}
	}
	_, err = health.Check(ctx, &healthpb.HealthCheckRequest{Service: "nope"})
	wantCode(t, err, codes.NotFound, `"nope"`)

	oipc := pb.NewGRPCInferenceServiceClient(cc)
	if live, err := oipc.ServerLive(ctx, &pb.ServerLiveRequest{}); err != nil || !live.GetLive() {
		t.Fatalf("ServerLive: %v, %v", live, err)
	}
	if r, err := oipc.ServerReady(ctx, &pb.ServerReadyRequest{}); err != nil || !r.GetReady() {
		t.Fatalf("ServerReady: %v, %v", r, err)
	}
	if r, err := oipc.ModelReady(ctx, &pb.ModelReadyRequest{Name: "echo"}); err != nil || !r.GetReady() {
		t.Fatalf("ModelReady(echo): %v, %v", r, err)
	}
	_, err = oipc.ModelReady(ctx, &pb.ModelReadyRequest{Name: "nope"})
	wantCode(t, err, codes.NotFound, `model "nope" does not exist`)
	if md, err := oipc.ServerMetadata(ctx, &pb.ServerMetadataRequest{}); err != nil || md.GetName() != ingress.ServerName {
		t.Fatalf("ServerMetadata: %v, %v", md, err)
	}
	// The replica has no ModelMetadata: the gateway answers with the name.
	if md, err := oipc.ModelMetadata(ctx, &pb.ModelMetadataRequest{Name: "echo"}); err != nil || md.GetName() != "echo" || len(md.GetInputs()) != 0 {
		t.Fatalf("ModelMetadata(echo): %v, %v", md, err)
	}

	// ModelInfer, by application and by application/deployment, typed
	// contents and raw.
	in := &oip.Request{ID: "r1", Inputs: []oip.Tensor{
		oip.BytesTensor("text", []byte("hello"), []byte("world")),
		{Name: "n", Datatype: "INT64", Shape: []int64{1}, Raw: []byte{7, 0, 0, 0, 0, 0, 0, 0}},
	}}
	for _, name := range []string{"echo", "echo/echo"} {
		out, err := oipc.ModelInfer(ctx, in.Proto(name, ""))
		if err != nil {
			t.Fatalf("ModelInfer(%s): %v", name, err)
		}
		if out.GetId() != "r1" || len(out.GetRawOutputContents()) != 2 ||
			string(out.GetRawOutputContents()[0]) != string(in.Inputs[0].Raw) || out.GetRawOutputContents()[1][0] != 7 {
			t.Fatalf("ModelInfer(%s) = %v", name, out)
		}
	}
	typed := &pb.ModelInferRequest{ModelName: "other", Inputs: []*pb.ModelInferRequest_InferInputTensor{
		{Name: "x", Datatype: "FP32", Shape: []int64{2}, Contents: &pb.InferTensorContents{Fp32Contents: []float32{1.5, 2.5}}}}}
	out, err := oipc.ModelInfer(ctx, typed)
	if err != nil || len(out.GetOutputs()) != 1 || !slices.Equal(out.GetOutputs()[0].GetContents().GetFp32Contents(), []float32{1.5, 2.5}) {
		t.Fatalf("ModelInfer(typed contents) = %v, %v", out, err)
	}
	_, err = oipc.ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "nope"})
	wantCode(t, err, codes.NotFound, `model "nope" does not exist`)

	// ModelStreamInfer answers each request, errors in error_message.
	st, err := oipc.ModelStreamInfer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"echo", "nope"} {
		if err := st.Send(in.Proto(name, "")); err != nil {
			t.Fatal(err)
		}
		r, err := st.Recv()
		if err != nil {
			t.Fatal(err)
		}
		if (name == "nope") != (r.GetErrorMessage() != "") {
			t.Fatalf("stream answer for %s: %v", name, r)
		}
	}
	st.CloseSend()
	if _, err := st.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after CloseSend: %v, want EOF", err)
	}
}

func TestGRPCTransparentProxy(t *testing.T) {
	srv, _ := servetest.GatewayWith(t, twoGRPCApps)
	servetest.Running(t, srv, 2)
	echo := echopb.NewEchoClient(dialGateway(t, srv))
	ctx := callCtx(t)
	toEcho := metadata.AppendToOutgoingContext(ctx, ingress.ApplicationMetadata, "echo")

	// Routing: the application metadata key names the application.
	_, err := echo.Unary(ctx, &echopb.Msg{Text: "hi"})
	wantCode(t, err, codes.InvalidArgument, `"application" metadata key: echo, other`)
	_, err = echo.Unary(metadata.AppendToOutgoingContext(ctx, ingress.ApplicationMetadata, "nope"), &echopb.Msg{Text: "hi"})
	wantCode(t, err, codes.NotFound, `application "nope"`)

	// Unary: metadata in, header, trailer and the replica's status out.
	var header, trailer metadata.MD
	m, err := echo.Unary(metadata.AppendToOutgoingContext(toEcho, "x-echo", "v1"), &echopb.Msg{Text: "hi", Seq: 3},
		grpc.Header(&header), grpc.Trailer(&trailer))
	if err != nil || m.GetText() != "hi" || m.GetSeq() != 3 || !strings.HasPrefix(m.GetReplica(), "echo") {
		t.Fatalf("Unary = %v, %v", m, err)
	}
	if got := header.Get("x-echo-header"); !slices.Equal(got, []string{"v1"}) {
		t.Errorf("header x-echo-header = %v, want [v1]", got)
	}
	if got := trailer.Get("x-echo-trailer"); !slices.Equal(got, []string{"v1"}) {
		t.Errorf("trailer x-echo-trailer = %v, want [v1]", got)
	}
	_, err = echo.Unary(toEcho, &echopb.Msg{Text: "fail"})
	wantCode(t, err, codes.InvalidArgument, "asked to fail")

	// Server stream, in lock step: the replica sends message i+1 only after
	// the client has received message i and called Release, so a proxy that
	// buffered the stream would never deliver message 0.
	const n = 4
	cs, err := echo.Count(toEcho, &echopb.CountRequest{N: n, Key: "k1"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(n) {
		m, err := cs.Recv()
		if err != nil || m.GetSeq() != i {
			t.Fatalf("Count message %d: %v, %v", i, m, err)
		}
		if i < n-1 {
			if _, err := echo.Release(toEcho, &echopb.Msg{Text: "k1"}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, err := cs.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after the last message: %v, want EOF", err)
	}

	// Bidirectional: each message is answered before the next is sent.
	bs, err := echo.Bidi(toEcho)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(n) {
		if err := bs.Send(&echopb.Msg{Text: "ping", Seq: i}); err != nil {
			t.Fatal(err)
		}
		m, err := bs.Recv()
		if err != nil || m.GetSeq() != i {
			t.Fatalf("Bidi answer %d: %v, %v", i, m, err)
		}
	}
	bs.CloseSend()
	if _, err := bs.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("after CloseSend: %v, want EOF", err)
	}
}

// The only application needs no metadata.
func TestGRPCProxyOnlyApplication(t *testing.T) {
	srv, _ := servetest.GatewayWith(t, `
applications:
- name: solo
  route_prefix: null
  deployments:
  - name: echo
    replica: {command: [TESTGRPCREPLICA], protocol: grpc}
`)
	servetest.Running(t, srv, 1)
	m, err := echopb.NewEchoClient(dialGateway(t, srv)).Unary(callCtx(t), &echopb.Msg{Text: "hi"})
	if err != nil || m.GetText() != "hi" {
		t.Fatalf("Unary = %v, %v", m, err)
	}
}

func holdRequest(model string) *pb.ModelInferRequest {
	return &pb.ModelInferRequest{ModelName: model,
		Parameters: map[string]*pb.InferParameter{"hold": {ParameterChoice: &pb.InferParameter_BoolParam{BoolParam: true}}}}
}

func TestOIPBackpressureIsResourceExhausted(t *testing.T) {
	srv, base := servetest.GatewayWith(t, `
applications:
- name: tight
  route_prefix: null
  deployments:
  - name: d
    max_ongoing_requests: 1
    max_queued_requests: 1
    replica: {command: [TESTGRPCREPLICA], protocol: grpc}
`)
	servetest.Running(t, srv, 1)
	oipc := pb.NewGRPCInferenceServiceClient(dialGateway(t, srv))
	// Two held calls: one on the only slot, then one in the only queue place.
	d, _ := srv.Router().Table().Application("tight")
	holdCtx, release := context.WithCancel(context.Background())
	held := make(chan error, 2)
	hold := func() {
		_, err := oipc.ModelInfer(holdCtx, holdRequest("tight"))
		held <- err
	}
	go hold()
	started := 1
	t.Cleanup(func() {
		release()
		for range started {
			<-held
		}
	})
	if !testenv.Eventually(10*time.Second, func() bool { return d.Inflight() == 1 }) {
		t.Fatal("the first held call never reached the replica")
	}
	go hold()
	started++
	if !testenv.Eventually(10*time.Second, func() bool { return d.Queued() == 1 }) {
		t.Fatal("the second held call never queued")
	}
	_, err := oipc.ModelInfer(callCtx(t), &pb.ModelInferRequest{ModelName: "tight"})
	wantCode(t, err, codes.ResourceExhausted, "at capacity")

	// The same over REST v2: 503 with Retry-After.
	body, code, hdr := postInfer(t, base+"/v2/models/tight/infer", `{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[1]}]}`)
	if code != 503 || hdr.Get("Retry-After") == "" || !strings.Contains(body, "at capacity") {
		t.Fatalf("REST infer at capacity: %d %q", code, body)
	}
}

func TestGRPCRequestTimeoutIsDeadlineExceeded(t *testing.T) {
	srv, _ := servetest.GatewayWith(t, `
grpc_options: {request_timeout_s: 0.3}
applications:
- name: slow
  route_prefix: null
  deployments:
  - name: d
    replica: {command: [TESTGRPCREPLICA], protocol: grpc}
`)
	servetest.Running(t, srv, 1)
	cc := dialGateway(t, srv)
	_, err := pb.NewGRPCInferenceServiceClient(cc).ModelInfer(callCtx(t), holdRequest("slow"))
	wantCode(t, err, codes.DeadlineExceeded, "grpc_options.request_timeout_s=0.3s")
	// A proxied stream is bounded too: Count waits for a Release that never comes.
	cs, err := echopb.NewEchoClient(cc).Count(callCtx(t), &echopb.CountRequest{N: 2, Key: "never"})
	if err == nil {
		if _, err = cs.Recv(); err == nil {
			_, err = cs.Recv()
		}
	}
	wantCode(t, err, codes.DeadlineExceeded, "grpc_options.request_timeout_s=0.3s")
}

func TestOIPRequestTimeoutIsDeadlineExceeded(t *testing.T) {
	srv, base := servetest.GatewayWith(t, `
http_options: {request_timeout_s: 0.3}
applications:
- name: slow
  route_prefix: null
  deployments:
  - name: d
    replica: {command: [TESTGRPCREPLICA], protocol: grpc}
`)
	servetest.Running(t, srv, 1)
	oipc := pb.NewGRPCInferenceServiceClient(dialGateway(t, srv))
	_, err := oipc.ModelInfer(callCtx(t), holdRequest("slow"))
	wantCode(t, err, codes.DeadlineExceeded, "request_timeout_s=0.3s")

	body, code, _ := postInfer(t, base+"/v2/models/slow/infer",
		`{"parameters":{"hold":true},"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[1]}]}`)
	if code != 504 || !strings.Contains(body, "request_timeout_s") {
		t.Fatalf("REST infer past request_timeout_s: %d %q", code, body)
	}
}

// SIGTERM's shutdown lets a gRPC call in flight finish: a bidirectional
// stream opened before the shutdown keeps flowing until the client ends it.
func TestGRPCShutdownFinishesCallsInFlight(t *testing.T) {
	cfg, err := config.Parse([]byte(servetest.WithTestReplica(`
applications:
- name: echo
  route_prefix: null
  deployments:
  - name: echo
    replica: {command: [TESTGRPCREPLICA], protocol: grpc}
`)))
	if err != nil {
		t.Fatal(err)
	}
	backend := local.New(local.Options{StateDir: t.TempDir(), Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { backend.Close() })
	gw := servetest.New(t, serve.Options{Config: cfg}, deploy.Options{Backend: backend})
	srv := gw.Server
	ctx, shutdown := context.WithCancel(context.Background())
	defer shutdown()
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	servetest.Running(t, srv, 1)

	bs, err := echopb.NewEchoClient(dialGateway(t, srv)).Bidi(callCtx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.Send(&echopb.Msg{Seq: 0}); err != nil {
		t.Fatal(err)
	}
	if m, err := bs.Recv(); err != nil || m.GetSeq() != 0 {
		t.Fatalf("before shutdown: %v, %v", m, err)
	}
	shutdown()
	if !testenv.Eventually(10*time.Second, func() bool { return srv.Ingress.Draining() }) {
		t.Fatal("the gateway did not start draining")
	}
	for i := int64(1); i <= 3; i++ {
		if err := bs.Send(&echopb.Msg{Seq: i}); err != nil {
			t.Fatalf("send %d while draining: %v", i, err)
		}
		if m, err := bs.Recv(); err != nil || m.GetSeq() != i {
			t.Fatalf("answer %d while draining: %v, %v", i, m, err)
		}
	}
	bs.CloseSend()
	if _, err := bs.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("stream end while draining: %v, want EOF", err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("Run did not return after the last call ended")
	}
}

// A gRPC address with no host binds the HTTP ingress's host.
func TestGRPCBindsTheHTTPHost(t *testing.T) {
	srv := servetest.New(t, serve.Options{GRPCAddr: ":0"}, deploy.Options{}).Server
	defer srv.Close()
	if host, _, _ := strings.Cut(srv.GRPCAddr(), ":"); host != "127.0.0.1" {
		t.Fatalf("gRPC listens on %s, want the HTTP host 127.0.0.1", srv.GRPCAddr())
	}
}

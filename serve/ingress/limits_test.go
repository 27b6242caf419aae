package ingress_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/internal/testgrpcreplica/echopb"
	pb "gantry.dev/gantry/oip/inferencepb"
	"gantry.dev/gantry/serve/ingress"
	"gantry.dev/gantry/serve/servetest"
)

// Memory and connection bounds, replayed with real clients on real
// sockets against a real gateway and real replicas.

// rawRequest sends head (and body, if any) on a new connection, leaves the
// connection open as a client still sending would, and returns the answer.
func rawRequest(t *testing.T, addr, head, body string) (int, string) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	io.WriteString(c, head+body)
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to %q: %v", head, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestInferBodyHeldWholeIsBounded(t *testing.T) {
	srv, base := servetest.GatewayWith(t, `
http_options: {max_infer_body_bytes: 2048}
applications:
- name: echo
  route_prefix: /echo
  deployments:
  - name: echo
    replica: {command: [TESTGRPCREPLICA], protocol: grpc}
- name: web
  route_prefix: /web
  deployments:
  - name: web
    replica: {command: [TESTREPLICA]}
`)
	servetest.Running(t, srv, 2)

	// For a gRPC replica the body is held whole: 413 before it is sent...
	code, body := rawRequest(t, srv.HTTPAddr(),
		"POST /v2/models/echo/infer HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n", "")
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "http_options.max_infer_body_bytes") {
		t.Errorf("Content-Length over the limit: %d %s, want 413 naming http_options.max_infer_body_bytes", code, body)
	}
	// ...or as soon as a chunked one passes the limit.
	chunk := strings.Repeat("x", 1000)
	code, body = rawRequest(t, srv.HTTPAddr(),
		"POST /v2/models/echo/infer HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
		strings.Repeat(fmt.Sprintf("%x\r\n%s\r\n", len(chunk), chunk), 3))
	if code != http.StatusRequestEntityTooLarge || !strings.Contains(body, "http_options.max_infer_body_bytes") {
		t.Errorf("chunked body over the limit: %d %s, want 413 naming http_options.max_infer_body_bytes", code, body)
	}
	// Inferences within the limit still work.
	if body, code, _ := postInfer(t, base+"/v2/models/echo/infer", `{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[7]}]}`); code != 200 {
		t.Errorf("small inference: %d %s", code, body)
	}

	// For an HTTP replica the body streams: max_infer_body_bytes does not
	// apply (the test replica has no /v2 route, so it answers 404).
	r := testenv.Call(t, http.MethodPost, base+"/v2/models/web/infer", strings.Repeat("y", 100000))
	if r.Code != http.StatusNotFound {
		t.Errorf("large inference for an HTTP replica: %d %s, want the replica's 404", r.Code, r.Body)
	}
}

func TestGRPCMessageSizeIsBounded(t *testing.T) {
	srv, _ := servetest.GatewayWith(t, `
grpc_options: {max_receive_message_bytes: 4096}
applications:
- name: echo
  deployments:
  - name: echo
    replica: {command: [TESTGRPCREPLICA], protocol: grpc}
`)
	servetest.Running(t, srv, 1)
	cc := dialGateway(t, srv)
	ctx := callCtx(t)
	big := strings.Repeat("z", 10000)

	// The Open Inference Protocol...
	_, err := pb.NewGRPCInferenceServiceClient(cc).ModelInfer(ctx, &pb.ModelInferRequest{ModelName: "echo",
		RawInputContents: [][]byte{[]byte(big)}})
	wantCode(t, err, codes.ResourceExhausted, "4096")
	// ...and the transparent proxy.
	echo := echopb.NewEchoClient(cc)
	toEcho := metadata.AppendToOutgoingContext(ctx, ingress.ApplicationMetadata, "echo")
	_, err = echo.Unary(toEcho, &echopb.Msg{Text: big})
	wantCode(t, err, codes.ResourceExhausted, "4096")
	if m, err := echo.Unary(toEcho, &echopb.Msg{Text: "small"}); err != nil || m.GetText() != "small" {
		t.Errorf("a small message after the refused ones: %v %v", m, err)
	}
}

// Past max_concurrent_streams (100) a connection's calls wait, as HTTP/2's
// SETTINGS_MAX_CONCURRENT_STREAMS has the client do.
func TestGRPCStreamsPerConnectionAreBounded(t *testing.T) {
	srv, _ := servetest.GatewayWith(t, "")
	health := healthpb.NewHealthClient(dialGateway(t, srv))
	ctx := callCtx(t)
	cancels := make([]context.CancelFunc, 0, 100)
	t.Cleanup(func() {
		for _, c := range cancels {
			c()
		}
	})
	for i := range 100 {
		wctx, cancel := context.WithCancel(ctx)
		cancels = append(cancels, cancel)
		w, err := health.Watch(wctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
		if _, err := w.Recv(); err != nil {
			t.Fatalf("stream %d: %v", i, err)
		}
	}
	short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	if _, err := health.Check(short, &healthpb.HealthCheckRequest{}); status.Code(err) != codes.DeadlineExceeded {
		t.Fatalf("the 101st call on the connection: %v, want it held back until its deadline", err)
	}
	cancels[0]() // one stream ends: the next call goes
	if _, err := health.Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatalf("a call once a stream ended: %v", err)
	}
}

func TestConnectionsPerPortAreBounded(t *testing.T) {
	srv, base := servetest.GatewayWith(t, `
http_options: {max_connections: 50}
grpc_options: {max_connections: 5}
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    replica: {command: [TESTREPLICA]}
`)
	servetest.Running(t, srv, 1)
	flood := func(addr string, n int) (closeAll func()) {
		var conns []net.Conn
		for range n {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, c)
		}
		return func() {
			for _, c := range conns {
				c.Close()
			}
		}
	}

	// The HTTP port, flooded up to its cap with idle connections: other
	// requests get 503 naming the limit, but health checks and the admin
	// API still answer.
	endFlood := flood(srv.HTTPAddr(), 50)
	defer endFlood()
	testenv.WaitFor(t, 10*time.Second, "a request to be refused while the port is full", func() bool {
		code, body, err := testenv.TryGet(base + "/id")
		return err == nil && code == http.StatusServiceUnavailable && strings.Contains(string(body), "http_options.max_connections (50)")
	})
	if code, body := testenv.Get(t, base+"/-/healthz"); code != http.StatusOK {
		t.Errorf("/-/healthz during the flood: %d %s", code, body)
	}
	if code, body := testenv.Get(t, "http://"+srv.DashboardAddr()+"/api/gantry/applications"); code != http.StatusOK {
		t.Errorf("admin API during the flood: %d %s", code, body)
	}
	endFlood()
	testenv.WaitFor(t, 10*time.Second, "normal requests once the flood ended", func() bool {
		code, _, err := testenv.TryGet(base + "/id")
		return err == nil && code == http.StatusOK
	})

	// The gRPC port: past its cap a connection is closed at once.
	check := func() error {
		cc, err := grpc.NewClient("passthrough:///"+srv.GRPCAddr(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer cc.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, err = healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
		return err
	}
	endGRPCFlood := flood(srv.GRPCAddr(), 5)
	defer endGRPCFlood()
	testenv.WaitFor(t, 10*time.Second, "a gRPC call to be refused while the port is full", func() bool { return check() != nil })
	endGRPCFlood()
	testenv.WaitFor(t, 10*time.Second, "gRPC calls once the flood ended", func() bool { return check() == nil })
}

package reliability

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "gantry.dev/gantry/oip/inferencepb"
)

// memoryLimits bound what one request may make the gateway hold: 1 MiB
// REST inference bodies and gRPC messages, 16 streams per gRPC connection.
const (
	memoryHTTP = `  max_infer_body_bytes: 1048576
`
	memoryGRPC = `  max_receive_message_bytes: 1048576
  max_concurrent_streams: 16
`
	limitBytes = 1 << 20
	maxStreams = 16
)

// modelApp is an application "model" served by one gRPC test replica, so
// the gateway translates REST inferences for it and holds their bodies.
const modelApp = `
- name: model
  route_prefix: /model
  deployments:
  - name: d
    replica:
      command: [TESTGRPCREPLICA]
      protocol: grpc
`

// Finding 3, memory: /v2 REST bodies were buffered up to 100 MiB before
// 413 (six at once: 1.36 GB RSS), gRPC messages up to 64 MiB (about 220 MB
// RSS each), and one HTTP/2 connection could open 50,000 streams (830 MB).
// Replayed against limits of 1 MiB and 16 streams:
//   - six REST inferences at once declaring 100 MB are answered 413 naming
//     http_options.max_infer_body_bytes before their body is sent;
//   - six 8 MiB gRPC messages at once get RESOURCE_EXHAUSTED naming the
//     1 MiB limit;
//   - 64 streams opened at once on one raw HTTP/2 connection: the 48 past
//     grpc_options.max_concurrent_streams are refused (RST_STREAM
//     REFUSED_STREAM) while a normal gRPC client is still answered;
//
// and the gateway's RSS comes back below twice its idle value.
func TestOversizedBodiesMessagesAndStreamsAreRefused(t *testing.T) {
	g := startGateway(t, twoReplicas(memoryHTTP, memoryGRPC)+modelApp)
	g.waitRunning(t, "app", "d", 2, "/app/id")
	g.waitRunning(t, "model", "d", 1, "/v2/models/model/ready")
	g.replay(t, "3: 100 MB REST bodies, 8 MiB gRPC messages, 64 streams on a connection", "/app/id", func(t *testing.T) string {
		return strings.Join([]string{oversizedREST(t, g), oversizedGRPC(t, g), tooManyStreams(t, g)}, "; ")
	})
}

// oversizedREST sends six REST inferences at once, each declaring a 100 MB
// body and sending its first 64 KiB, and checks each is refused with 413.
func oversizedREST(t *testing.T, g *gateway) string {
	head := "POST /v2/models/model/infer HTTP/1.1\r\nHost: model\r\nContent-Type: application/json\r\nContent-Length: 104857600\r\n\r\n"
	part := `{"inputs":[{"name":"x","datatype":"BYTES","shape":[1],"data":["` + strings.Repeat("x", 64<<10)
	answers := make([]answer, 6)
	var wg sync.WaitGroup
	for i := range answers {
		c := dial(t, g.addr, 0)
		wg.Go(func() {
			start := time.Now()
			io.WriteString(c, head+part) // the gateway may answer and close before all of it is sent
			a, err := readAnswer(c, start)
			if err != nil {
				t.Errorf("REST inference declaring 100 MB: no answer: %v", err)
			}
			answers[i] = a
		})
	}
	wg.Wait()
	var took figures
	for _, a := range answers {
		took.latency = append(took.latency, a.took)
		if a.code != http.StatusRequestEntityTooLarge || !strings.Contains(a.body, "http_options.max_infer_body_bytes") {
			t.Errorf("REST inference declaring 100 MB: %d %q; want 413 naming http_options.max_infer_body_bytes", a.code, a.body)
		}
	}
	return fmt.Sprintf("6× %d naming max_infer_body_bytes (slowest %s)", answers[0].code, ms(took.quantile(1)))
}

// oversizedGRPC sends six 8 MiB inference messages at once and checks each
// gets RESOURCE_EXHAUSTED naming the limit.
func oversizedGRPC(t *testing.T, g *gateway) string {
	client := inferenceClient(t, g, grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	big := bytes.Repeat([]byte("x"), 8<<20)
	codesGot := make([]codes.Code, 6)
	var wg sync.WaitGroup
	for i := range codesGot {
		wg.Go(func() {
			ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
			defer cancel()
			_, err := client.ModelInfer(ctx, inferRequest("model", big))
			codesGot[i] = status.Code(err)
			if status.Code(err) != codes.ResourceExhausted || !strings.Contains(status.Convert(err).Message(), fmt.Sprint(limitBytes)) {
				t.Errorf("8 MiB gRPC message: %v; want RESOURCE_EXHAUSTED naming the limit %d", err, limitBytes)
			}
		})
	}
	wg.Wait()
	return fmt.Sprintf("6× %v for 8 MiB gRPC messages", codesGot[0])
}

// tooManyStreams opens 64 streams at once on one HTTP/2 connection to the
// gRPC port, each a ModelInfer call whose request never comes (so each
// stays open), and checks that the server refuses those past
// maxStreams while a normal gRPC client is answered.
func tooManyStreams(t *testing.T, g *gateway) string {
	const streams = 64
	c := dial(t, g.grpcAddr, 0)
	if _, err := io.WriteString(c, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	fr := http2.NewFramer(c, c)
	if err := fr.WriteSettings(); err != nil {
		t.Fatal(err)
	}
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for i := range streams {
		block.Reset()
		for _, f := range [][2]string{{":method", "POST"}, {":scheme", "http"}, {":authority", g.grpcAddr},
			{":path", "/inference.GRPCInferenceService/ModelInfer"}, {"content-type", "application/grpc"}, {"te", "trailers"}} {
			enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		if err := fr.WriteHeaders(http2.HeadersFrameParam{StreamID: uint32(2*i + 1), BlockFragment: block.Bytes(), EndHeaders: true}); err != nil {
			t.Fatalf("opening stream %d: %v", i, err)
		}
	}
	refused, other := 0, map[string]int{}
	c.SetReadDeadline(time.Now().Add(rawTimeout))
	for refused < streams-maxStreams {
		f, err := fr.ReadFrame()
		if err != nil {
			t.Errorf("%d of %d streams over the limit of %d were refused before: %v (other frames: %v)",
				refused, streams-maxStreams, maxStreams, err, other)
			break
		}
		switch f := f.(type) {
		case *http2.SettingsFrame:
			if !f.IsAck() {
				fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				fr.WritePing(true, f.Data)
			}
		case *http2.RSTStreamFrame:
			if f.ErrCode == http2.ErrCodeRefusedStream {
				refused++
			} else {
				other["RST_STREAM "+f.ErrCode.String()]++
			}
		case *http2.WindowUpdateFrame:
		default:
			other[f.Header().Type.String()]++
		}
	}
	if len(other) > 0 {
		t.Errorf("besides %d refused streams, the server sent %v; want the %d streams within the limit left open", refused, other, maxStreams)
	}
	// The held streams cost nothing to others: a normal call is answered.
	ctx, cancel := context.WithTimeout(context.Background(), rawTimeout)
	defer cancel()
	if _, err := inferenceClient(t, g).ServerLive(ctx, &pb.ServerLiveRequest{}); err != nil {
		t.Errorf("a normal gRPC call while %d streams are held: %v", maxStreams, err)
	}
	return fmt.Sprintf("%d of %d streams refused (REFUSED_STREAM)", refused, streams)
}

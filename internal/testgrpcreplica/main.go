// Command testgrpcreplica is a gRPC replica (replica.protocol: grpc) for
// Gantry's tests: a real process serving on 127.0.0.1:$PORT ($GANTRY_HOST
// when set)
//
//   - gantry.test.echo.Echo, a user service the gateway knows nothing
//     about (echopb/echo.proto): unary, server-streaming in lock step with
//     Release, and bidirectional streaming;
//   - grpc.health.v1, SERVING while it runs;
//   - inference.GRPCInferenceService: ModelInfer answers every input as an
//     output of the same name, with parameter "replica" set to its id.
//     Request parameter "hold" (bool) makes it wait until the call ends;
//     "reject" (bool) makes it answer UNAVAILABLE with the gantry-rejected
//     trailer before doing any work.
//
// SIGTERM stops it gracefully. It is built by the tests, not shipped.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"gantry.dev/gantry/internal/testgrpcreplica/echopb"
	pb "gantry.dev/gantry/oip/inferencepb"
	"gantry.dev/gantry/replica"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	env := replica.FromEnv()
	if err := run(ctx, env.Addr(), env.ReplicaID); err != nil {
		fmt.Fprintln(os.Stderr, "testgrpcreplica:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, addr, id string) error {
	if addr == "" {
		return fmt.Errorf("PORT must be a port number, got %q", os.Getenv("PORT"))
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := grpc.NewServer()
	echopb.RegisterEchoServer(srv, &echo{id: id, gates: map[string]chan struct{}{}})
	pb.RegisterGRPCInferenceServiceServer(srv, &infer{id: id})
	h := health.NewServer()
	h.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(srv, h)
	go func() {
		<-ctx.Done()
		h.Shutdown()
		srv.GracefulStop()
	}()
	return srv.Serve(ln)
}

type echo struct {
	echopb.UnimplementedEchoServer
	id    string
	mu    sync.Mutex
	gates map[string]chan struct{}
}

func (e *echo) Unary(ctx context.Context, m *echopb.Msg) (*echopb.Msg, error) {
	if v := metadata.ValueFromIncomingContext(ctx, "x-echo"); len(v) > 0 {
		grpc.SetHeader(ctx, metadata.Pairs("x-echo-header", v[0]))
		grpc.SetTrailer(ctx, metadata.Pairs("x-echo-trailer", v[0]))
	}
	if m.GetText() == "fail" {
		return nil, status.Error(codes.InvalidArgument, "asked to fail")
	}
	return &echopb.Msg{Text: m.GetText(), Seq: m.GetSeq(), Replica: e.id}, nil
}

func (e *echo) gate(key string) chan struct{} {
	e.mu.Lock()
	defer e.mu.Unlock()
	ch, ok := e.gates[key]
	if !ok {
		ch = make(chan struct{}, 1)
		e.gates[key] = ch
	}
	return ch
}

func (e *echo) Count(req *echopb.CountRequest, stream echopb.Echo_CountServer) error {
	gate := e.gate(req.GetKey())
	for i := range req.GetN() {
		if err := stream.Send(&echopb.Msg{Text: "count", Seq: i, Replica: e.id}); err != nil {
			return err
		}
		if i == req.GetN()-1 {
			break
		}
		select {
		case <-gate:
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
	return nil
}

func (e *echo) Release(_ context.Context, m *echopb.Msg) (*echopb.Msg, error) {
	e.gate(m.GetText()) <- struct{}{}
	return &echopb.Msg{Text: m.GetText(), Replica: e.id}, nil
}

func (e *echo) Bidi(stream echopb.Echo_BidiServer) error {
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := stream.Send(&echopb.Msg{Text: m.GetText(), Seq: m.GetSeq(), Replica: e.id}); err != nil {
			return err
		}
	}
}

type infer struct {
	pb.UnimplementedGRPCInferenceServiceServer
	id string
}

func (s *infer) ModelInfer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	params := req.GetParameters()
	if params["reject"].GetBoolParam() {
		grpc.SetTrailer(ctx, metadata.Pairs("gantry-rejected", "1"))
		return nil, status.Error(codes.Unavailable, "rejected before doing any work")
	}
	if params["hold"].GetBoolParam() {
		<-ctx.Done()
		return nil, status.FromContextError(ctx.Err()).Err()
	}
	out := &pb.ModelInferResponse{ModelName: req.GetModelName(), ModelVersion: req.GetModelVersion(), Id: req.GetId(),
		Parameters: map[string]*pb.InferParameter{"replica": {ParameterChoice: &pb.InferParameter_StringParam{StringParam: s.id}}}}
	raw := req.GetRawInputContents()
	for i, in := range req.GetInputs() {
		out.Outputs = append(out.Outputs, &pb.ModelInferResponse_InferOutputTensor{
			Name: in.GetName(), Datatype: in.GetDatatype(), Shape: in.GetShape(), Contents: in.GetContents()})
		if len(raw) > 0 {
			out.RawOutputContents = append(out.RawOutputContents, raw[i])
		}
	}
	return out, nil
}

func (s *infer) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

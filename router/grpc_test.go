package router

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"gantry.dev/gantry/oip"
	pb "gantry.dev/gantry/oip/inferencepb"

	"gantry.dev/gantry/internal/testenv"
)

// Infer over real sockets: in-process gRPC and HTTP replicas.

// inferServer is a gRPC replica whose ModelInfer runs f.
type inferServer struct {
	pb.UnimplementedGRPCInferenceServiceServer
	f func(context.Context, *pb.ModelInferRequest) (*pb.ModelInferResponse, error)
}

func (s *inferServer) ModelInfer(ctx context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	return s.f(ctx, r)
}

func grpcReplica(t *testing.T, id string, f func(context.Context, *pb.ModelInferRequest) (*pb.ModelInferResponse, error)) *Replica {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	pb.RegisterGRPCInferenceServiceServer(srv, &inferServer{f: f})
	go srv.Serve(ln)
	rep := NewReplica(id, ln.Addr().String(), ReplicaOptions{Protocol: "grpc"})
	t.Cleanup(func() { rep.Close(); srv.Stop() })
	return rep
}

func echoInfer(id string) func(context.Context, *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	return func(_ context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
		return &pb.ModelInferResponse{ModelName: r.GetModelName(), Id: id}, nil
	}
}

func TestInferRetriesARejectionOnAnotherGRPCReplica(t *testing.T) {
	var rejected atomic.Int32
	reject := grpcReplica(t, "reject", func(ctx context.Context, _ *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
		rejected.Add(1)
		grpc.SetTrailer(ctx, metadata.Pairs(RejectedMetadata, "1"))
		return nil, status.Error(codes.Unavailable, "busy")
	})
	ok := grpcReplica(t, "ok", echoInfer("ok"))
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 4, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{reject, ok})
	for range 10 {
		resp, err := d.Infer(context.Background(), &pb.ModelInferRequest{ModelName: "app"})
		if err != nil || resp.GetId() != "ok" {
			t.Fatalf("Infer = %v, %v; want the answer of replica ok", resp, err)
		}
	}
	if rejected.Load() == 0 {
		t.Fatal("the rejecting replica was never picked; the test proves nothing")
	}
}

func TestInferReplicaFailureIsUnavailable(t *testing.T) {
	for _, protocol := range []string{"grpc", "http"} {
		t.Run(protocol, func(t *testing.T) {
			d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: -1, MaxAttempts: 1}, nil)
			rep := NewReplica("dead", testenv.FreeAddr(t), ReplicaOptions{Protocol: protocol})
			t.Cleanup(rep.Close)
			d.SetReplicas([]*Replica{rep})
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := d.Infer(ctx, &pb.ModelInferRequest{ModelName: "app"})
			if status.Code(err) != codes.Unavailable {
				t.Fatalf("Infer on a dead replica = %v, want UNAVAILABLE", err)
			}
		})
	}
}

func TestInferReplicaStatusPassesThrough(t *testing.T) {
	rep := grpcReplica(t, "r", func(context.Context, *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
		return nil, status.Error(codes.InvalidArgument, "input x: wrong shape")
	})
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{rep})
	_, err := d.Infer(context.Background(), &pb.ModelInferRequest{ModelName: "app"})
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || st.Message() != "input x: wrong shape" {
		t.Fatalf("Infer = %v, want the replica's INVALID_ARGUMENT", err)
	}
}

// An HTTP replica gets REST v2 with binary tensors, and its answer comes
// back as a gRPC response.
func TestInferTranslatesToRESTForHTTPReplicas(t *testing.T) {
	var sawPath, sawHeaderLen string
	rep, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		sawPath, sawHeaderLen = r.URL.Path, r.Header.Get(oip.HeaderContentLength)
		body, _ := io.ReadAll(r.Body)
		hl, _ := strconv.Atoi(sawHeaderLen)
		req, err := oip.DecodeRESTRequest(body, hl)
		if err != nil {
			http.Error(w, `{"error":"`+err.Error()+`"}`, http.StatusBadRequest)
			return
		}
		if len(req.Inputs) == 0 || req.Inputs[0].Name == "bad" {
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":"input bad is not known"}`)
			return
		}
		out := &oip.Response{ModelName: "m", Outputs: []oip.Tensor{{Name: "y", Datatype: "UINT8", Shape: []int64{int64(len(req.Inputs[0].Raw))}, Raw: bytes.ToUpper(req.Inputs[0].Raw)}}}
		data, hl, _ := oip.EncodeRESTResponse(out, req)
		w.Header().Set(oip.HeaderContentLength, strconv.Itoa(hl))
		w.Write(data)
	})
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{rep})
	in := &oip.Request{Inputs: []oip.Tensor{{Name: "x", Datatype: "UINT8", Shape: []int64{3}, Raw: []byte("abc")}}}
	resp, err := d.Infer(context.Background(), in.Proto("my/model", "2"))
	if err != nil {
		t.Fatal(err)
	}
	if sawPath != "/v2/models/my%2Fmodel/versions/2/infer" && sawPath != "/v2/models/my/model/versions/2/infer" {
		t.Errorf("replica saw path %q", sawPath)
	}
	if sawHeaderLen == "" {
		t.Error("no Inference-Header-Content-Length: the tensors were not sent binary")
	}
	if len(resp.GetRawOutputContents()) != 1 || string(resp.GetRawOutputContents()[0]) != "ABC" {
		t.Fatalf("Infer = %v", resp)
	}
	bad := &oip.Request{Inputs: []oip.Tensor{{Name: "bad", Datatype: "UINT8", Shape: []int64{1}, Raw: []byte("a")}}}
	_, err = d.Infer(context.Background(), bad.Proto("m", ""))
	if st := status.Convert(err); st.Code() != codes.InvalidArgument || !strings.Contains(st.Message(), "input bad is not known") {
		t.Fatalf("replica's 400 = %v, want INVALID_ARGUMENT with its error", err)
	}
}

func TestFrameModelNameReadsFieldOneOnly(t *testing.T) {
	in := &oip.Request{ID: "x", Inputs: []oip.Tensor{oip.BytesTensor("t", []byte("model_name"))}}
	b, err := proto.Marshal(in.Proto("app/dep", "3"))
	if err != nil {
		t.Fatal(err)
	}
	if name, ok := (&Frame{b: b}).ModelName(); !ok || name != "app/dep" {
		t.Fatalf("ModelName = %q, %v", name, ok)
	}
	if _, ok := (&Frame{b: []byte{0x0a, 0x05, 'a'}}).ModelName(); ok {
		t.Fatal("a truncated message parsed")
	}
}

// InferFrame passes the bytes through to a gRPC replica unchanged.
func TestInferFramePassesBytesThrough(t *testing.T) {
	rep := grpcReplica(t, "r", func(_ context.Context, r *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
		return &pb.ModelInferResponse{ModelName: r.GetModelName(), RawOutputContents: r.GetRawInputContents()}, nil
	})
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{rep})
	in := &oip.Request{Inputs: []oip.Tensor{oip.BytesTensor("t", []byte("abc"))}}
	b, _ := proto.Marshal(in.Proto("app", ""))
	out, err := d.InferFrame(context.Background(), &Frame{b: b})
	if err != nil {
		t.Fatal(err)
	}
	var resp pb.ModelInferResponse
	if err := proto.Unmarshal(out.b, &resp); err != nil || resp.GetModelName() != "app" || !bytes.Equal(resp.GetRawOutputContents()[0], in.Inputs[0].Raw) {
		t.Fatalf("answer %v, %v", &resp, err)
	}
}

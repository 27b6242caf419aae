package reliability

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	pb "gantry.dev/gantry/oip/inferencepb"
)

// inferenceClient is an Open Inference Protocol client of the gateway's
// gRPC ingress, closed when the test ends; opts are added to its dial.
func inferenceClient(t *testing.T, g *gateway, opts ...grpc.DialOption) pb.GRPCInferenceServiceClient {
	t.Helper()
	cc, err := grpc.NewClient(g.grpcAddr, append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return pb.NewGRPCInferenceServiceClient(cc)
}

// inferRequest is a small valid inference request for model.
func inferRequest(model string, raw []byte) *pb.ModelInferRequest {
	return &pb.ModelInferRequest{
		ModelName:        model,
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "x", Datatype: "BYTES", Shape: []int64{1}}},
		RawInputContents: [][]byte{append([]byte{byte(len(raw)), byte(len(raw) >> 8), byte(len(raw) >> 16), byte(len(raw) >> 24)}, raw...)},
	}
}

package router

import (
	"context"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pb "gantry.dev/gantry/oip/inferencepb"
)

// InferFrame is Infer for a request still in its wire form: a gRPC replica
// gets the frame as it came and its answer goes back as it came, so the
// gateway decodes and encodes neither (the common case, and the costly
// part of a gRPC hop); an HTTP replica gets it decoded and translated to
// REST v2 as in Infer.
func (d *Deployment) InferFrame(ctx context.Context, req *Frame) (*Frame, error) {
	var (
		resp    *Frame
		decoded *pb.ModelInferRequest
	)
	err := d.unary(ctx, d.settings.Load().Idempotent, func(ctx context.Context, rep *Replica) error {
		if rep.grpc != nil {
			out := new(Frame)
			if err := rep.invoke(ctx, methodModelInfer, req, out, grpc.ForceCodecV2(Codec{})); err != nil {
				return err
			}
			resp = out
			return nil
		}
		if decoded == nil {
			decoded = new(pb.ModelInferRequest)
			if err := proto.Unmarshal(req.b, decoded); err != nil {
				decoded = nil
				return &clientError{status.Errorf(codes.InvalidArgument, "ModelInferRequest: %v", err)}
			}
		}
		r, err := rep.inferREST(ctx, decoded)
		if err != nil {
			return err
		}
		b, err := proto.Marshal(r)
		if err != nil {
			return status.Errorf(codes.Internal, "encoding the answer: %v", err)
		}
		resp = &Frame{b: b}
		return nil
	})
	return resp, err
}

// ModelName reads model_name (field 1) of a ModelInferRequest in wire
// form without decoding the rest. ok is false when the bytes are not a
// valid message.
func (f *Frame) ModelName() (name string, ok bool) {
	b := f.b
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return "", false
		}
		b = b[n:]
		if num == 1 && typ == protowire.BytesType {
			v, n := protowire.ConsumeBytes(b)
			if n < 0 {
				return "", false
			}
			name = string(v) // the last one wins, as in proto decoding
			b = b[n:]
			continue
		}
		n = protowire.ConsumeFieldValue(num, typ, b)
		if n < 0 {
			return "", false
		}
		b = b[n:]
	}
	return name, true
}

package ingress

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	pb "gantry.dev/gantry/oip/inferencepb"
	"gantry.dev/gantry/router"
)

// ServerName is what ServerMetadata and GET /v2 answer as the server's name.
const ServerName = "gantry"

// oipExtensions are the protocol extensions the gateway implements.
var oipExtensions = []string{"binary_tensor_data"}

// oipService is inference.GRPCInferenceService: a model is an application
// (its ingress deployment) or "application/deployment".
type oipService struct {
	pb.UnimplementedGRPCInferenceServiceServer
	router   *router.Router
	draining *atomic.Bool
}

// model resolves a model name to its deployment; unknown names are NOT_FOUND.
func model(rt *router.Router, name string) (*router.Deployment, error) {
	t := rt.Table()
	if name == "" {
		return nil, status.Error(codes.InvalidArgument, "model name is empty; name an application: "+listNames(t.Applications()))
	}
	d, ok := t.Model(name)
	if !ok {
		return nil, status.Errorf(codes.NotFound, "model %q does not exist: a model is an application name or application/deployment; applications: %s",
			name, listNames(t.Applications()))
	}
	return d, nil
}

// serverReady: not draining, and every application has a replica.
func serverReady(rt *router.Router, draining *atomic.Bool) bool {
	if draining.Load() {
		return false
	}
	t := rt.Table()
	for _, name := range t.Applications() {
		if d, _ := t.Application(name); !ready(d) {
			return false
		}
	}
	return true
}

func (s *oipService) ServerLive(context.Context, *pb.ServerLiveRequest) (*pb.ServerLiveResponse, error) {
	return &pb.ServerLiveResponse{Live: true}, nil
}

func (s *oipService) ServerReady(context.Context, *pb.ServerReadyRequest) (*pb.ServerReadyResponse, error) {
	return &pb.ServerReadyResponse{Ready: serverReady(s.router, s.draining)}, nil
}

func (s *oipService) ServerMetadata(context.Context, *pb.ServerMetadataRequest) (*pb.ServerMetadataResponse, error) {
	return &pb.ServerMetadataResponse{Name: ServerName, Version: ServerVersion, Extensions: oipExtensions}, nil
}

func (s *oipService) ModelReady(_ context.Context, req *pb.ModelReadyRequest) (*pb.ModelReadyResponse, error) {
	d, err := model(s.router, req.GetName())
	if err != nil {
		return nil, err
	}
	return &pb.ModelReadyResponse{Ready: !s.draining.Load() && ready(d)}, nil
}

func (s *oipService) ModelMetadata(ctx context.Context, req *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	d, err := model(s.router, req.GetName())
	if err != nil {
		return nil, err
	}
	return modelMetadata(ctx, d, req)
}

// modelMetadata asks a replica for the model's tensors; a replica that
// does not serve metadata gets the name alone.
func modelMetadata(ctx context.Context, d *router.Deployment, req *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	md, err := d.ModelMetadata(ctx, req)
	if status.Code(err) == codes.Unimplemented {
		return &pb.ModelMetadataResponse{Name: req.GetName(), Platform: ServerName}, nil
	}
	if err != nil {
		return nil, err
	}
	md.Name = req.GetName()
	return md, nil
}

func (s *oipService) ModelInfer(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	d, err := model(s.router, req.GetModelName())
	if err != nil {
		return nil, err
	}
	return d.Infer(ctx, req)
}

// registerOIP registers svc with ModelInfer taking and giving frames
// undecoded (see Deployment.InferFrame); the other methods are the
// generated ones.
func registerOIP(srv *grpc.Server, svc *oipService) {
	desc := pb.GRPCInferenceService_ServiceDesc
	desc.Methods = slices.Clone(desc.Methods)
	for i := range desc.Methods {
		if desc.Methods[i].MethodName == "ModelInfer" {
			desc.Methods[i].Handler = svc.modelInferFrame
		}
	}
	srv.RegisterService(&desc, svc)
}

// modelInferFrame is the ModelInfer method handler for frames.
func (s *oipService) modelInferFrame(_ any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	f := new(router.Frame)
	if err := dec(f); err != nil {
		return nil, err
	}
	handle := func(ctx context.Context, req any) (any, error) {
		f := req.(*router.Frame)
		name, ok := f.ModelName()
		if !ok {
			return nil, status.Error(codes.InvalidArgument, "the request is not a valid inference.ModelInferRequest")
		}
		d, err := model(s.router, name)
		if err != nil {
			return nil, err
		}
		resp, err := d.InferFrame(ctx, f)
		if err != nil {
			return nil, err
		}
		return resp, nil
	}
	if interceptor == nil {
		return handle(ctx, f)
	}
	return interceptor(ctx, f, &grpc.UnaryServerInfo{Server: s, FullMethod: pb.GRPCInferenceService_ModelInfer_FullMethodName}, handle)
}

// ModelStreamInfer answers each request of the stream in turn; a failed
// request is answered with its error_message and the stream goes on.
func (s *oipService) ModelStreamInfer(stream pb.GRPCInferenceService_ModelStreamInferServer) error {
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		resp, err := s.ModelInfer(stream.Context(), req)
		out := &pb.ModelStreamInferResponse{InferResponse: resp}
		if err != nil {
			if stream.Context().Err() != nil {
				return status.FromContextError(stream.Context().Err()).Err()
			}
			out = &pb.ModelStreamInferResponse{ErrorMessage: status.Convert(err).Message()}
		}
		if err := stream.Send(out); err != nil {
			return err
		}
	}
}

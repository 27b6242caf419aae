package router

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"gantry.dev/gantry/oip"
	pb "gantry.dev/gantry/oip/inferencepb"
)

// metadataTimeout bounds asking a replica for a model's metadata.
const metadataTimeout = 5 * time.Second

// ModelMetadata asks a replica of d for the model's metadata (its tensors):
// ModelMetadata on a gRPC replica, GET /v2/models/{m}[/versions/{v}] on an
// HTTP one. It goes through the same engine as any request (attempt.go): a
// slot, the queue, breakers, retries (it is idempotent) and metrics, and
// it is bounded by metadataTimeout besides. A replica that does not
// implement it answers UNIMPLEMENTED (gRPC) or 404/405/501 (HTTP), which
// comes back as codes.Unimplemented.
func (d *Deployment) ModelMetadata(ctx context.Context, req *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	var resp *pb.ModelMetadataResponse
	err := d.unary(ctx, true, func(ctx context.Context, rep *Replica) error {
		var err error
		if rep.grpc != nil {
			md := new(pb.ModelMetadataResponse)
			if err = rep.invoke(ctx, methodModelMetadata, req, md); err == nil {
				resp = md
			}
			return err
		}
		resp, err = rep.metadataREST(ctx, req)
		return err
	})
	return resp, err
}

const methodModelMetadata = "/inference.GRPCInferenceService/ModelMetadata"

// metadataREST asks an HTTP replica for model metadata over REST v2.
func (r *Replica) metadataREST(ctx context.Context, req *pb.ModelMetadataRequest) (*pb.ModelMetadataResponse, error) {
	path := "/v2/models/" + url.PathEscape(req.GetName())
	if v := req.GetVersion(); v != "" {
		path += "/versions/" + url.PathEscape(v)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+r.addr+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := r.transport.RoundTrip(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusServiceUnavailable:
		if resp.Header.Get("Gantry-Rejected") != "" {
			return nil, &rejectedError{r.id}
		}
		return nil, status.Error(codeForHTTP(resp.StatusCode), "replica "+r.id+" answered "+resp.Status+": "+oip.ErrorMessage(body))
	case http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusNotImplemented:
		return nil, status.Errorf(codes.Unimplemented, "replica %s has no model metadata (%s)", r.id, resp.Status)
	default:
		return nil, status.Error(codeForHTTP(resp.StatusCode), "replica "+r.id+" answered "+resp.Status+": "+oip.ErrorMessage(body))
	}
	md, err := oip.DecodeMetadata(body)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "replica %s: %v", r.id, err)
	}
	out := md.Proto()
	out.Name = req.GetName()
	return out, nil
}

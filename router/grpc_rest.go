package router

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"gantry.dev/gantry/oip"
	pb "gantry.dev/gantry/oip/inferencepb"
)

// inferREST sends an inference to an HTTP replica as REST v2 with Triton's
// binary tensor extension: every input in the binary section, every output
// asked for as binary, so no tensor is JSON-encoded.
func (r *Replica) inferREST(ctx context.Context, req *pb.ModelInferRequest) (*pb.ModelInferResponse, error) {
	in, err := oip.FromProtoRequest(req)
	if err != nil {
		return nil, &clientError{status.Error(codes.InvalidArgument, err.Error())}
	}
	body, headerLen, err := oip.EncodeRESTRequest(in)
	if err != nil {
		return nil, &clientError{status.Error(codes.InvalidArgument, err.Error())}
	}
	path := "/v2/models/" + url.PathEscape(req.GetModelName())
	if v := req.GetModelVersion(); v != "" {
		path += "/versions/" + url.PathEscape(v)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+r.addr+path+"/infer", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	oip.SetBodyHeaders(hreq.Header, len(body), headerLen)
	resp, err := r.transport.RoundTrip(hreq)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Gantry-Rejected") != "" {
		return nil, &rejectedError{r.id}
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxGRPCMessage+1))
	if err != nil {
		return nil, fmt.Errorf("reading the answer: %w", err)
	}
	if len(data) > MaxGRPCMessage {
		return nil, status.Errorf(codes.ResourceExhausted, "replica %s answered more than %d bytes", r.id, MaxGRPCMessage)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, status.Error(codeForHTTP(resp.StatusCode), "replica "+r.id+" answered "+resp.Status+": "+oip.ErrorMessage(data))
	}
	out, err := oip.DecodeHTTPResponse(resp.Header, data)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "replica %s: %v", r.id, err)
	}
	if out.ModelName == "" {
		out.ModelName = req.GetModelName()
	}
	return out.Proto(), nil
}

// codeForHTTP maps a replica's HTTP status to a gRPC code.
func codeForHTTP(code int) codes.Code {
	switch code {
	case http.StatusBadRequest, http.StatusUnprocessableEntity:
		return codes.InvalidArgument
	case http.StatusNotFound:
		return codes.NotFound
	case http.StatusRequestEntityTooLarge:
		return codes.ResourceExhausted
	case http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusBadGateway:
		return codes.Unavailable
	case http.StatusGatewayTimeout, http.StatusRequestTimeout:
		return codes.DeadlineExceeded
	case http.StatusNotImplemented, http.StatusMethodNotAllowed:
		return codes.Unimplemented
	case http.StatusUnauthorized:
		return codes.Unauthenticated
	case http.StatusForbidden:
		return codes.PermissionDenied
	}
	return codes.Internal
}

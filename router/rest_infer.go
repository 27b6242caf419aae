package router

import (
	"bytes"
	"context"
	"io"
	"net/http"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"gantry.dev/gantry/oip"
)

// InferREST answers an Open Inference Protocol REST inference,
// POST /v2/models/{model}[/versions/{version}]/infer, through the same
// engine as Forward. An HTTP replica gets the client's request as it is —
// path, headers, body — and its answer goes back as it is: REST to REST
// needs no translation. A gRPC replica gets the request translated to
// ModelInfer (package oip) and its answer translated back. The gateway's
// own errors are the protocol's {"error": ...} bodies. The replica sees
// requestID as X-Request-ID; out, when not nil, reports what became of the
// request.
func (d *Deployment) InferREST(w http.ResponseWriter, r *http.Request, model, version, requestID string, out *Outcome) {
	d.forwardHTTP(w, r, &forwarding{requestID: requestID, rest: &restInfer{model: model, version: version}}, out)
}

// restInfer is what the attempts of one REST inference share when a
// replica speaks gRPC: the request, decoded once.
type restInfer struct {
	model, version string
	req            *oip.Request // nil until a gRPC replica is tried
}

// viaGRPC makes one attempt of a REST inference on a gRPC replica and
// returns its answer as the REST response the client should get. A
// request that cannot be decoded is the client's fault (*clientError); a
// gRPC status from the replica is returned as the error.
func (ri *restInfer) viaGRPC(ctx context.Context, rep *Replica, r *http.Request, body *requestBody) (*http.Response, error) {
	if ri.req == nil {
		if body.stream != nil { // read the whole of it once; every later attempt reuses it
			data, err := io.ReadAll(io.LimitReader(body.stream, MaxGRPCMessage+1))
			if err != nil {
				return nil, &clientError{err}
			}
			if len(data) > MaxGRPCMessage {
				return nil, &clientError{status.Errorf(codes.ResourceExhausted, "the request is larger than %d bytes, the most a gRPC replica takes", MaxGRPCMessage)}
			}
			body.buf, body.stream = data, nil
		}
		req, err := oip.DecodeHTTPRequest(r.Header, body.buf)
		if err != nil {
			return nil, &clientError{status.Error(codes.InvalidArgument, err.Error())}
		}
		ri.req = req
	}
	resp, err := rep.inferGRPC(ctx, ri.req.Proto(ri.model, ri.version))
	if err != nil {
		return nil, err
	}
	out, err := oip.FromProtoResponse(resp)
	if err != nil {
		return nil, status.Errorf(codes.Internal, "replica %s: %v", rep.id, err)
	}
	data, hl, err := oip.EncodeRESTResponse(out, ri.req)
	if err != nil {
		return nil, &clientError{status.Error(codes.InvalidArgument, err.Error())}
	}
	h := make(http.Header, 3)
	oip.SetBodyHeaders(h, len(data), hl)
	return &http.Response{StatusCode: http.StatusOK, Header: h, ContentLength: int64(len(data)),
		Body: io.NopCloser(bytes.NewReader(data))}, nil
}

// restStatus answers a gRPC status as the protocol's REST error and
// returns the HTTP status it maps to.
func restStatus(w http.ResponseWriter, err error) int {
	st := status.Convert(err)
	code := httpCode(err)
	if code == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	if code == StatusClientClosed {
		return code
	}
	oip.WriteError(w, code, st.Message())
	return code
}

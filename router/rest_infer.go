package router

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"

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
// RequestID as X-Request-ID. The body streams to an HTTP replica; for a
// gRPC replica the gateway holds it whole, up to inf.MaxBody bytes.
func (d *Deployment) InferREST(w http.ResponseWriter, r *http.Request, inf RESTInference) {
	max := inf.MaxBody
	if max <= 0 || max > MaxGRPCMessage {
		max = MaxGRPCMessage
	}
	d.forwardHTTP(w, r, &forwarding{requestID: inf.RequestID, rest: &restInfer{model: inf.Model, version: inf.Version, maxBody: max}}, inf.Out)
}

// RESTInference is one Open Inference Protocol REST inference: the model
// and version of its path, and its limits.
type RESTInference struct {
	Model, Version string
	// RequestID is the X-Request-ID the replica sees.
	RequestID string
	// MaxBody bounds a body the gateway must hold whole to translate it
	// for a gRPC replica (http_options.max_infer_body_bytes); larger ones
	// are answered 413. 0, or more than MaxGRPCMessage: MaxGRPCMessage.
	MaxBody int64
	// Out, when not nil, reports what became of the request.
	Out *Outcome
}

// restInfer is what the attempts of one REST inference share when a
// replica speaks gRPC: the request, decoded once.
type restInfer struct {
	model, version string
	maxBody        int64        // the most of the body held to translate it
	req            *oip.Request // nil until a gRPC replica is tried
}

// InferBodyTooLarge is the answer to a REST inference whose body is larger
// than the gateway holds to translate it for a gRPC replica.
type InferBodyTooLarge struct{ Limit int64 }

func (e *InferBodyTooLarge) Error() string {
	return "request body is larger than http_options.max_infer_body_bytes (" + strconv.FormatInt(e.Limit, 10) +
		" bytes), the most the gateway holds to translate an inference for a gRPC replica"
}

// HTTPStatus is 413: see BodyError.
func (e *InferBodyTooLarge) HTTPStatus() int { return http.StatusRequestEntityTooLarge }

// viaGRPC makes one attempt of a REST inference on a gRPC replica and
// returns its answer as the REST response the client should get. A
// request that cannot be decoded is the client's fault (*clientError); a
// gRPC status from the replica is returned as the error.
func (ri *restInfer) viaGRPC(ctx context.Context, rep *Replica, r *http.Request, body *requestBody) (*http.Response, error) {
	if ri.req == nil {
		if r.ContentLength > ri.maxBody || int64(len(body.buf)) > ri.maxBody {
			return nil, &clientError{&InferBodyTooLarge{ri.maxBody}}
		}
		if body.stream != nil { // read the whole of it once; every later attempt reuses it
			data, err := io.ReadAll(io.LimitReader(body.stream, ri.maxBody+1))
			if err != nil {
				return nil, &clientError{err}
			}
			if int64(len(data)) > ri.maxBody {
				return nil, &clientError{&InferBodyTooLarge{ri.maxBody}}
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

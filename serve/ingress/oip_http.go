package ingress

import (
	"net/http"
	"strconv"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"gantry.dev/gantry/oip"
	pb "gantry.dev/gantry/oip/inferencepb"
	"gantry.dev/gantry/router"
)

// oipHTTP answers the Open Inference Protocol's REST paths under /v2:
//
//	GET  /v2                                         server metadata
//	GET  /v2/health/live, /v2/health/ready
//	GET  /v2/models/{m}[/versions/{v}]               model metadata
//	GET  /v2/models/{m}[/versions/{v}]/ready
//	POST /v2/models/{m}[/versions/{v}]/infer         JSON or binary tensors
//
// A model is an application or application/deployment. Inferences go
// through Deployment.InferREST: passed through to HTTP replicas,
// translated for gRPC ones.
func (in *ingress) oipHTTP(w *pacedWriter, r *http.Request) {
	path := strings.TrimSuffix(r.URL.Path, "/")
	switch path {
	case "/v2":
		if allow(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, map[string]any{"name": ServerName, "version": ServerVersion, "extensions": oipExtensions})
		}
		return
	case "/v2/health/live":
		if allow(w, r, http.MethodGet) {
			writeJSON(w, http.StatusOK, map[string]bool{"live": true})
		}
		return
	case "/v2/health/ready":
		if allow(w, r, http.MethodGet) {
			ok := serverReady(in.router, in.draining)
			writeJSON(w, readyCode(ok), map[string]bool{"ready": ok})
		}
		return
	}
	rest, ok := strings.CutPrefix(path, "/v2/models/")
	if !ok || rest == "" {
		oipError(w, http.StatusNotFound, "path "+r.URL.Path+" is not an Open Inference Protocol path: /v2/health/live, /v2/health/ready, /v2/models/{model}[/versions/{v}][/ready|/infer]")
		return
	}
	action := ""
	for _, a := range []string{"/ready", "/infer"} {
		if s, ok := strings.CutSuffix(rest, a); ok {
			rest, action = s, a
			break
		}
	}
	name, version := rest, ""
	if i := strings.LastIndex(rest, "/versions/"); i >= 0 {
		name, version = rest[:i], rest[i+len("/versions/"):]
	}
	d, err := model(in.router, name)
	if err != nil {
		oipStatus(w, err)
		return
	}
	switch action {
	case "":
		if allow(w, r, http.MethodGet) {
			md, err := modelMetadata(r.Context(), d, &pb.ModelMetadataRequest{Name: name, Version: version})
			if err != nil {
				oipStatus(w, err)
				return
			}
			writeJSON(w, http.StatusOK, oip.FromProtoMetadata(md))
		}
	case "/ready":
		if allow(w, r, http.MethodGet) {
			ok := !in.draining.Load() && ready(d)
			writeJSON(w, readyCode(ok), map[string]any{"name": name, "ready": ok})
		}
	case "/infer":
		if allow(w, r, http.MethodPost) {
			in.infer(w, r, d, name, version)
		}
	}
}

// infer sends a REST inference on through the router: as it is to HTTP
// replicas, translated to gRPC for gRPC ones (Deployment.InferREST).
//
// A body for a gRPC replica is held whole, so it is bounded by
// http_options.max_infer_body_bytes: 413 before reading it when its
// Content-Length says it is larger, or as soon as it passes the limit
// (Deployment.InferREST). A body for an HTTP replica streams through,
// bounded by http_options.max_request_body_bytes like any other.
func (in *ingress) infer(w *pacedWriter, r *http.Request, d *router.Deployment, name, version string) {
	field, max := "http_options.max_request_body_bytes", in.limits.maxBody
	if in.limits.maxInferBody < max && servesGRPC(d) {
		field, max = "http_options.max_infer_body_bytes", in.limits.maxInferBody
	}
	if r.ContentLength > max {
		w.Header().Set("Connection", "close")
		oipError(w, http.StatusRequestEntityTooLarge, "request body of "+strconv.FormatInt(r.ContentLength, 10)+
			" bytes is larger than "+field+" ("+strconv.FormatInt(max, 10)+")")
		return
	}
	w.paceBody(r, in.limits.maxBody, "http_options.max_request_body_bytes")
	d.InferREST(w, r, router.RESTInference{Model: name, Version: version, RequestID: w.Header().Get("X-Request-Id"),
		MaxBody: in.limits.maxInferBody})
}

// servesGRPC reports whether any of d's replicas speaks gRPC: an inference
// for it is translated, so the gateway holds the body whole.
func servesGRPC(d *router.Deployment) bool {
	for _, r := range d.Replicas() {
		if r.GRPC() {
			return true
		}
	}
	return false
}

// oipStatus answers a gRPC status error with its HTTP equivalent.
func oipStatus(w http.ResponseWriter, err error) {
	st := status.Convert(err)
	code := http.StatusInternalServerError
	switch st.Code() {
	case codes.NotFound:
		code = http.StatusNotFound
	case codes.InvalidArgument, codes.FailedPrecondition, codes.OutOfRange:
		code = http.StatusBadRequest
	case codes.ResourceExhausted:
		w.Header().Set("Retry-After", "1")
		code = http.StatusServiceUnavailable
	case codes.DeadlineExceeded:
		code = http.StatusGatewayTimeout
	case codes.Unavailable:
		code = http.StatusBadGateway
	case codes.Unimplemented:
		code = http.StatusNotImplemented
	case codes.Canceled:
		return // the client has gone
	}
	oipError(w, code, st.Message())
}

func readyCode(ok bool) int {
	if ok {
		return http.StatusOK
	}
	return http.StatusServiceUnavailable
}

func allow(w http.ResponseWriter, r *http.Request, method string) bool {
	if r.Method == method || (method == http.MethodGet && r.Method == http.MethodHead) {
		return true
	}
	w.Header().Set("Allow", method)
	oipError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path+"; use "+method)
	return false
}

// oipError writes the protocol's error body, {"error": msg}.
func oipError(w http.ResponseWriter, code int, msg string) { oip.WriteError(w, code, msg) }

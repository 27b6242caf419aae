package router

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/grpc/status"

	"gantry.dev/gantry/oip"
)

// MaxBufferedBody is the largest request body read before the first attempt
// so that it can be sent again on a retry. Larger or unsized bodies stream
// and are retried only after a dial error, when no byte of them was sent.
const MaxBufferedBody = 1 << 20

// StatusClientClosed is the status recorded (never sent) when the client
// went away before its response was complete.
const StatusClientClosed = 499

var copyBuffers = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// Forward sends r to a replica of d, with prefix (the matched route prefix)
// stripped from the path, and copies the answer to w as it arrives. The
// replica sees requestID as X-Request-ID, and a new W3C traceparent when the
// client sent none.
func (d *Deployment) Forward(w http.ResponseWriter, r *http.Request, prefix, requestID string) {
	d.ForwardOutcome(w, r, prefix, requestID, nil)
}

// ForwardOutcome is Forward that also reports what became of the request
// in out, when out is not nil (see tracing.go).
func (d *Deployment) ForwardOutcome(w http.ResponseWriter, r *http.Request, prefix, requestID string, out *Outcome) {
	d.forwardHTTP(w, r, &forwarding{prefix: prefix, requestID: requestID}, out)
}

// forwardHTTP is one HTTP request's call through the engine.
func (d *Deployment) forwardHTTP(w http.ResponseWriter, r *http.Request, fw *forwarding, out *Outcome) {
	var c call
	d.begin(&c, r.Context())
	defer c.end()
	c.out = out
	code, aborted := c.forward(w, r, fw)
	c.finish(code)
	if out != nil {
		out.Status = code
	}
	if aborted {
		// The replica failed mid-response: end the client's connection
		// abruptly so the truncated body is not mistaken for a whole one.
		panic(http.ErrAbortHandler)
	}
}

// forwarding is what every HTTP attempt of one request shares: how the
// request is rewritten for the replica (see head.go).
type forwarding struct {
	prefix, requestID string
	traceparent       string // the client's, a new one, or the attempt span's
	idempotent        bool   // safe to send again, on the same replica or another
	// rest is set for an OIP REST inference (InferREST): gRPC replicas get
	// it translated, and the gateway's errors are OIP error bodies.
	rest *restInfer
	// call is set for a handle call (call.go): it goes to CallPath, without
	// the caller's Authorization.
	call bool
}

// forward runs the HTTP attempts of call c and returns the status recorded
// for the request and whether the response was cut short after it started.
func (c *call) forward(w http.ResponseWriter, r *http.Request, fw *forwarding) (int, bool) {
	body, err := readBody(r)
	if err != nil {
		return c.httpFailure(w, fw, nil, verdict{fault: clientFault, err: err}), false
	}
	if fw.traceparent = r.Header.Get("Traceparent"); fw.traceparent == "" {
		fw.traceparent = c.d.traceparent()
	}
	c.traceparent = fw.traceparent
	var streamed *http.Request // the outbound request, only for streamed bodies (they go through http.Transport)
	if body.stream != nil {
		if streamed, err = outbound(r, fw); err != nil {
			return writeError(w, http.StatusBadRequest, "request target: "+err.Error()), false
		}
	}
	c.model = requestedModel(r)
	fw.idempotent = c.settings.Idempotent || r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
	c.idempotent, c.replayable = fw.idempotent, body.replayable()

	for {
		rep, err := c.pick()
		if err != nil {
			return c.httpFailure(w, fw, nil, c.classify(nil, err)), false
		}
		if fw.traceparent != c.traceparent { // the attempt span is the replica's parent
			fw.traceparent = c.traceparent
			if streamed != nil {
				streamed.Header["Traceparent"] = []string{fw.traceparent}
			}
		}
		var resp *http.Response
		if fw.rest != nil && rep.grpc != nil {
			resp, err = fw.rest.viaGRPC(c.ctx, rep, r, body)
			c.replayable = body.replayable()
		} else {
			resp, err = rep.roundTrip(c.ctx, r, streamed, body, fw)
		}
		if err != nil {
			v := c.classify(rep, err)
			if berr := body.err(); berr != nil && v.fault != timedOut {
				// The client's body failed while being sent on: its fault.
				v = verdict{fault: clientFault, err: berr}
			}
			if c.done(rep, v, 0) {
				continue
			}
			if v.fault == noFault { // a gRPC replica's own status
				return restStatus(w, v.err), false
			}
			return c.httpFailure(w, fw, rep, v), false
		}
		rep.noteModels(resp.Header)
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Gantry-Rejected") != "" {
			// A rejection is no response: request_timeout_s keeps running.
			// Without an attempt left, the replica's 503 is the answer.
			v := c.classify(rep, &rejectedError{rep.id})
			if c.again(v) {
				drainAndClose(resp.Body)
				c.done(rep, v, resp.StatusCode)
				continue
			}
		}
		if !c.started() {
			resp.Body.Close()
			v := verdict{fault: timedOut, err: context.Cause(c.ctx)}
			c.done(rep, v, resp.StatusCode)
			return c.httpFailure(w, fw, rep, v), false
		}
		code, err := copyResponse(w, resp)
		switch {
		case err == nil:
			// Written whole: the client's status, even if it has left since.
			c.done(rep, verdict{}, code)
			return code, false
		case errors.Is(err, errClientWrite) || c.caller.Err() != nil:
			// The client left before the response was complete.
			c.done(rep, verdict{fault: clientFault, err: err}, code)
			return StatusClientClosed, false
		default:
			c.done(rep, verdict{fault: replicaFault, err: err}, code)
			return code, true
		}
	}
}

// httpFailure answers verdict v of a request that got no response from a
// replica (rep, if an attempt was made) and returns the status recorded.
func (c *call) httpFailure(w http.ResponseWriter, fw *forwarding, rep *Replica, v verdict) int {
	code, msg := http.StatusBadGateway, ""
	switch v.fault {
	case queueFull:
		w.Header().Set("Retry-After", "1")
		code, msg = http.StatusServiceUnavailable, c.capacityText()
	case unavailable:
		w.Header().Set("Retry-After", unavailableRetryAfter)
		code, msg = http.StatusServiceUnavailable, v.err.Error()
	case timedOut:
		code, msg = http.StatusGatewayTimeout, c.timeoutText()
	case clientFault:
		if be, ok := errors.AsType[BodyError](v.err); ok {
			// The rest of the body is not read: the connection cannot
			// carry another request.
			w.Header().Set("Connection", "close")
			code, msg = be.HTTPStatus(), be.Error()
			break
		}
		if c.caller.Err() != nil || errors.Is(v.err, io.ErrUnexpectedEOF) {
			return StatusClientClosed // it left, or its body ended early
		}
		if tooBig, ok := errors.AsType[*http.MaxBytesError](v.err); ok {
			code, msg = http.StatusRequestEntityTooLarge, "request body is larger than the limit of "+strconv.FormatInt(tooBig.Limit, 10)+" bytes"
		} else if st, ok := status.FromError(v.err); ok {
			code, msg = httpCode(v.err), st.Message() // a request the gateway could not translate
		} else {
			code, msg = http.StatusBadRequest, "reading request body: "+v.err.Error()
		}
	default:
		if msg = v.err.Error(); rep != nil {
			msg = "replica " + rep.id + " failed: " + msg
		}
	}
	if fw.rest != nil {
		oip.WriteError(w, code, msg)
		return code
	}
	return writeError(w, code, msg)
}

func writeError(w http.ResponseWriter, code int, msg string) int {
	h := w.Header()
	h.Set("Content-Type", "text/plain; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
	return code
}

// hopByHop are the headers that belong to one connection, not the request.
var hopByHop = map[string]bool{
	"Connection": true, "Proxy-Connection": true, "Keep-Alive": true, "Proxy-Authenticate": true,
	"Proxy-Authorization": true, "Te": true, "Trailer": true, "Transfer-Encoding": true, "Upgrade": true,
}

// outbound builds the request to the replica for http.Transport (streamed
// bodies): the same target and headers writeHead writes.
func outbound(r *http.Request, fw *forwarding) (*http.Request, error) {
	u, err := url.ParseRequestURI(fw.target(r))
	if err != nil {
		return nil, err
	}
	u.Scheme = "http"
	h := make(http.Header, len(r.Header)+6)
	outboundHeaders(r, fw, func(k, v string) { h[k] = append(h[k], v) })
	if _, ok := h["User-Agent"]; !ok {
		h["User-Agent"] = []string{""} // keep Go's default agent out
	}
	return &http.Request{
		Method:     r.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       r.Host,
	}, nil
}

func stripPrefix(path, prefix string) string {
	rest := strings.TrimPrefix(path, prefix)
	if rest == "" || rest[0] != '/' {
		rest = "/" + rest
	}
	return rest
}

// copyResponse writes resp to w, flushing after every read when the
// response has no declared length (chunked, server-sent events), so each
// chunk reaches the client as the replica writes it. It returns the status
// and nil when the whole response was written, an error wrapping
// errClientWrite when a write to the client failed, or the replica's read
// error when the body was cut short.
func copyResponse(w http.ResponseWriter, resp *http.Response) (int, error) {
	defer resp.Body.Close()
	h := w.Header()
	for k, v := range resp.Header {
		if !hopByHop[k] && k != LoadedModelsHeader {
			h[k] = v
		}
	}
	for k := range resp.Trailer {
		h.Add("Trailer", k)
	}
	w.WriteHeader(resp.StatusCode)
	var flusher http.Flusher
	if resp.ContentLength < 0 {
		flusher, _ = w.(http.Flusher)
		if flusher != nil {
			flusher.Flush() // headers now: the first chunk may be slow to come
		}
	}
	bp := copyBuffers.Get().(*[]byte)
	defer copyBuffers.Put(bp)
	buf := *bp
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return resp.StatusCode, fmt.Errorf("%w: %w", errClientWrite, werr)
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return resp.StatusCode, fmt.Errorf("the replica's response was cut short: %w", rerr)
		}
	}
	for k, v := range resp.Trailer {
		h[k] = v
	}
	return resp.StatusCode, nil
}

// BodyError is an error a client's request body failed with that says how
// to answer: the ingress's limits (a body too slow, or too large) and the
// gateway's own (InferBodyTooLarge) return one. It is the client's fault,
// answered with its status and message, even when the server has ended
// the request's context because the connection's read failed; the
// connection is then closed.
type BodyError interface {
	error
	HTTPStatus() int
}

// errClientWrite is a write to the client that failed: it has left.
var errClientWrite = errors.New("writing the response to the client")

func drainAndClose(rc io.ReadCloser) {
	io.CopyN(io.Discard, rc, 64<<10)
	rc.Close()
}

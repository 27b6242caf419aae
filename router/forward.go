package router

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// MaxBufferedBody is the largest request body read before the first attempt
// so that it can be sent again on a retry. Larger or unsized bodies stream
// and are retried only after a dial error, when no byte of them was sent.
const MaxBufferedBody = 1 << 20

// StatusClientClosed is the status recorded (never sent) when the client
// went away before its response was complete.
const StatusClientClosed = 499

var errRequestTimeout = errors.New("request_timeout_s exceeded")

var errRejected = errors.New("rejected by the replica (Gantry-Rejected); retrying elsewhere")

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
	start := time.Now()
	s := d.settings.Load()
	ctx := r.Context()
	var timer *time.Timer
	if s.RequestTimeout > 0 {
		var cancel context.CancelCauseFunc
		ctx, cancel = context.WithCancelCause(ctx)
		defer cancel(nil)
		timer = time.AfterFunc(s.RequestTimeout, func() { cancel(errRequestTimeout) })
		defer timer.Stop()
	}
	code, aborted := d.forward(ctx, w, r, attempt{prefix: prefix, requestID: requestID, settings: s, timer: timer, out: out})
	d.metrics.observe(code, time.Since(start))
	if out != nil {
		out.Status = code
	}
	if aborted {
		// The replica failed mid-response: end the client's connection
		// abruptly so the truncated body is not mistaken for a whole one.
		panic(http.ErrAbortHandler)
	}
}

// attempt is what every attempt of one request shares.
type attempt struct {
	prefix, requestID string
	traceparent       string // the client's, or a new one
	settings          *Settings
	idempotent        bool        // safe to send again, on the same replica or another
	timer             *time.Timer // request_timeout_s, disarmed once the response starts
	out               *Outcome    // nil: nobody asked
}

// forward runs the attempts and returns the status recorded for the request
// and whether the response was cut short after it started.
func (d *Deployment) forward(ctx context.Context, w http.ResponseWriter, r *http.Request, a attempt) (int, bool) {
	s, timer := a.settings, a.timer
	body, err := readBody(r)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return writeError(w, http.StatusRequestEntityTooLarge, "request body is larger than the limit of "+strconv.FormatInt(tooBig.Limit, 10)+" bytes"), false
		}
		if r.Context().Err() != nil {
			return StatusClientClosed, false
		}
		return writeError(w, http.StatusBadRequest, "reading request body: "+err.Error()), false
	}
	if a.traceparent = r.Header.Get("Traceparent"); a.traceparent == "" {
		a.traceparent = d.traceparent()
	}
	var streamed *http.Request // the outbound request, only for streamed bodies (they go through http.Transport)
	if body.stream != nil {
		if streamed, err = outbound(r, &a); err != nil {
			return writeError(w, http.StatusBadRequest, "request target: "+err.Error()), false
		}
	}
	idempotent := s.Idempotent || r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == http.MethodOptions
	a.idempotent = idempotent
	tr := tracingFor(ctx)

	var skip tried
	for attempt := 1; ; attempt++ {
		var rep *Replica
		qs := tr.queue(ctx, d, attempt)
		if attempt == 1 {
			rep, err = d.acquire(ctx, nil)
		} else {
			rep, err = d.acquire(ctx, &skip)
		}
		endQueue(qs, rep, err)
		if err != nil {
			return d.failure(w, r, ctx, err), false
		}
		skip.add(rep)
		as := tr.attempt(ctx, rep, attempt, &a)
		if as != nil && streamed != nil { // the attempt span is the replica's parent
			streamed.Header["Traceparent"] = []string{a.traceparent}
		}
		if a.out != nil {
			a.out.Replica, a.out.Attempts, a.out.Traceparent = rep.id, attempt, a.traceparent
		}
		resp, err := rep.roundTrip(ctx, r, streamed, body, &a)
		if err != nil {
			endAttempt(as, 0, err)
			d.Release(rep)
			if ctx.Err() != nil {
				return d.failure(w, r, ctx, ctx.Err()), false
			}
			rep.breaker.record(false)
			if errors.Is(err, syscall.ECONNREFUSED) {
				rep.markRefused()
			}
			if reason := retryReason(err, idempotent, body); reason != "" && attempt < s.MaxAttempts {
				d.metrics.retried(reason)
				continue
			}
			return writeError(w, http.StatusBadGateway, "replica "+rep.id+" failed: "+err.Error()), false
		}
		if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get("Gantry-Rejected") != "" &&
			body.replayable() && attempt < s.MaxAttempts {
			// A rejection is no response: request_timeout_s keeps running.
			endAttempt(as, resp.StatusCode, errRejected)
			drainAndClose(resp.Body)
			d.Release(rep)
			d.metrics.retried("rejected")
			continue
		}
		if timer != nil && !timer.Stop() {
			endAttempt(as, resp.StatusCode, context.Cause(ctx))
			resp.Body.Close()
			d.Release(rep)
			return d.failure(w, r, ctx, context.Cause(ctx)), false
		}
		rep.breaker.record(true)
		code, aborted := copyResponse(w, resp)
		endAttempt(as, code, cutShort(aborted))
		d.Release(rep)
		if code == StatusClientClosed || r.Context().Err() != nil {
			return StatusClientClosed, false
		}
		return code, aborted
	}
}

// failure maps an error from acquiring a replica or from a cancelled
// attempt to its status, and answers the client if it is still there.
func (d *Deployment) failure(w http.ResponseWriter, r *http.Request, ctx context.Context, err error) int {
	switch {
	case errors.Is(err, ErrQueueFull):
		w.Header().Set("Retry-After", "1")
		return writeError(w, http.StatusServiceUnavailable, "deployment "+d.app+"/"+d.name+
			" is at capacity: every replica has max_ongoing_requests in flight and max_queued_requests are waiting; retry later")
	case errors.Is(context.Cause(ctx), errRequestTimeout):
		return writeError(w, http.StatusGatewayTimeout, "request timed out after request_timeout_s="+
			strconv.FormatFloat(d.settings.Load().RequestTimeout.Seconds(), 'g', -1, 64)+"s")
	case r.Context().Err() != nil:
		return StatusClientClosed
	default:
		return writeError(w, http.StatusBadGateway, err.Error())
	}
}

// retryReason says why a failed attempt may go to another replica, or ""
// when retrying could run a non-idempotent request twice.
func retryReason(err error, idempotent bool, body *requestBody) string {
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return "dial"
	}
	if idempotent && body.replayable() {
		return "replica_failed"
	}
	return ""
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
func outbound(r *http.Request, a *attempt) (*http.Request, error) {
	u, err := url.ParseRequestURI(target(r, a.prefix))
	if err != nil {
		return nil, err
	}
	u.Scheme = "http"
	h := make(http.Header, len(r.Header)+6)
	outboundHeaders(r, a, func(k, v string) { h[k] = append(h[k], v) })
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
// and whether the body was cut short by the replica.
func copyResponse(w http.ResponseWriter, resp *http.Response) (int, bool) {
	defer resp.Body.Close()
	h := w.Header()
	for k, v := range resp.Header {
		if !hopByHop[k] {
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
				return StatusClientClosed, false
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return resp.StatusCode, true
		}
	}
	for k, v := range resp.Trailer {
		h[k] = v
	}
	return resp.StatusCode, false
}

func drainAndClose(rc io.ReadCloser) {
	io.CopyN(io.Discard, rc, 64<<10)
	rc.Close()
}

package ingress

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"
)

// Slow clients. A client that sends its body slowly, or reads its response
// slowly, holds a replica slot for as long as it likes unless the gateway
// cuts it; the ingress does, through deadlines on the client's connection
// (http.ResponseController), so a blocked read or write ends when its
// deadline passes:
//
//   - the request body (pacedBody): no wait for the next bytes may last
//     longer than slow_client_grace_s, and once the body has taken
//     slow_client_grace_s its average rate must stay at or above
//     min_body_rate_bytes_per_s. Only the time spent waiting for the client
//     counts: while the gateway is not reading (the replica is slow to take
//     the body, or the request waits for a slot) the client is not to
//     blame. A body cut this way is answered 408, and the connection closed.
//   - the response (pacedWriter): writes go to the client in pieces of at
//     most min_response_rate_bytes_per_s × slow_client_grace_s bytes, and
//     the client must take each piece within slow_client_grace_s. A client
//     that does not is cut: the write fails, the router records 499 (the
//     client's fault, not the replica's) and ends the replica's request,
//     which frees its slot.
//
// Both also bound the size: pacedBody answers a body larger than its limit
// with 413 naming the limit's field, as soon as the body passes it.

// limits are the ingress's bounds on one client's request and response.
type limits struct {
	maxBody      int64         // http_options.max_request_body_bytes
	maxInferBody int64         // http_options.max_infer_body_bytes
	bodyRate     float64       // http_options.min_body_rate_bytes_per_s
	responseRate float64       // http_options.min_response_rate_bytes_per_s
	grace        time.Duration // http_options.slow_client_grace_s
	now          func() time.Time
}

// pacedBody is a request body held to the minimum rate and the size limit.
type pacedBody struct {
	body  io.ReadCloser
	rc    *http.ResponseController // the writer's; nil: deadlines are not supported
	lim   *limits
	limit int64  // the most bytes the body may have
	field string // the setting limit comes from
	n     int64  // bytes read
	// waited is the time spent blocked in Read: the client's share of the
	// body's time.
	waited time.Duration
	err    error // sticky: the limit's error
}

// paceBody holds r's body to the minimum rate and to limit (from the
// setting field), through w's connection.
func (w *pacedWriter) paceBody(r *http.Request, limit int64, field string) {
	if r.Body == nil || r.Body == http.NoBody {
		return
	}
	var rc *http.ResponseController
	if w.deadlines {
		rc = &w.rc
	}
	r.Body = &pacedBody{body: r.Body, rc: rc, lim: w.lim, limit: limit, field: field}
}

func (b *pacedBody) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if room := b.limit - b.n + 1; int64(len(p)) > room {
		p = p[:room] // one byte past the limit tells a body that is too large
	}
	start := b.lim.now()
	if b.rc != nil {
		if b.rc.SetReadDeadline(start.Add(b.allowance())) != nil {
			b.rc = nil // not a server connection (e.g. a test's recorder)
		}
	}
	n, err := b.body.Read(p)
	b.waited += b.lim.now().Sub(start)
	b.n += int64(n)
	if b.n > b.limit {
		n -= int(b.n - b.limit)
		b.n = b.limit
		b.err = &bodyTooLarge{limit: b.limit, field: b.field}
		return n, b.err
	}
	if err != nil && errors.Is(err, os.ErrDeadlineExceeded) {
		b.err = &slowBody{rate: b.lim.bodyRate, grace: b.lim.grace}
		return n, b.err
	}
	return n, err
}

// allowance is how long the next read may wait for the client: the grace
// at most, and no longer than keeps the body's average at the minimum rate
// once the grace has passed.
func (b *pacedBody) allowance() time.Duration {
	earned := time.Duration(float64(b.n) / b.lim.bodyRate * float64(time.Second))
	return min(b.lim.grace, max(b.lim.grace, earned)-b.waited)
}

func (b *pacedBody) Close() error { return b.body.Close() }

// slowBody is a request body cut for arriving slower than
// min_body_rate_bytes_per_s. It is a router.BodyError: answered 408.
type slowBody struct {
	rate  float64
	grace time.Duration
}

func (e *slowBody) Error() string {
	return "request body arrived slower than http_options.min_body_rate_bytes_per_s (" +
		strconv.FormatFloat(e.rate, 'g', -1, 64) + " bytes/s on average after http_options.slow_client_grace_s=" +
		strconv.FormatFloat(e.grace.Seconds(), 'g', -1, 64) + "s, and no pause longer than that)"
}

func (e *slowBody) HTTPStatus() int { return http.StatusRequestTimeout }

// bodyTooLarge is a request body larger than its limit. It is a
// router.BodyError: answered 413.
type bodyTooLarge struct {
	limit int64
	field string
}

func (e *bodyTooLarge) Error() string {
	return "request body is larger than " + e.field + " (" + strconv.FormatInt(e.limit, 10) + " bytes)"
}

func (e *bodyTooLarge) HTTPStatus() int { return http.StatusRequestEntityTooLarge }

// pacedWriter is a response writer held to the minimum response rate.
type pacedWriter struct {
	http.ResponseWriter
	// rc sets the connection's deadlines, for the writer and its request's
	// body: one controller a request, held here rather than allocated.
	rc        http.ResponseController
	deadlines bool // false: the writer does not support them
	lim       *limits
	piece     int // the most bytes one deadline covers
}

func (l *limits) paceWriter(w http.ResponseWriter) *pacedWriter {
	piece := int(min(l.responseRate*l.grace.Seconds(), 1<<30))
	pw := &pacedWriter{ResponseWriter: w, rc: *http.NewResponseController(w), deadlines: true, lim: l, piece: max(piece, 1)}
	pw.deadline() // a deadline from an earlier request on the connection may have passed
	return pw
}

// deadline gives the next write (or flush) slow_client_grace_s.
func (w *pacedWriter) deadline() {
	if w.deadlines && w.rc.SetWriteDeadline(w.lim.now().Add(w.lim.grace)) != nil {
		w.deadlines = false
	}
}

func (w *pacedWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := min(len(p), w.piece)
		w.deadline()
		n, err := w.ResponseWriter.Write(p[:k])
		written += n
		if err != nil {
			return written, err
		}
		p = p[k:]
	}
	return written, nil
}

// Flush sends what is buffered, within the grace.
func (w *pacedWriter) Flush() {
	w.deadline()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the server's writer.
func (w *pacedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

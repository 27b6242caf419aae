package ingress

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"sync"
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/router"
)

// The access log: one line per request routed to an application, like
// Ray's proxy access log, written through a buffer that is flushed a few
// times a second so a busy gateway makes no write call per request.

// accessFlushEvery is how often buffered access log lines are written out.
const accessFlushEvery = 200 * time.Millisecond

type accessLog struct {
	json bool
	out  *lineBuffer
	now  func() time.Time
}

// newAccessLog writes to w as text, or JSON when json is set, in the
// formats of slog's handlers.
func newAccessLog(w io.Writer, json bool) *accessLog {
	return &accessLog{json: json, out: &lineBuffer{w: bufio.NewWriterSize(w, 64<<10)}, now: time.Now}
}

// accessLines are the per-request buffers lines are formatted in.
var accessLines = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// request logs one answered request.
func (a *accessLog) request(r *http.Request, route router.Route, out *router.Outcome, took time.Duration, requestID string) {
	var traceID string
	if tp := out.Traceparent; len(tp) >= 35 {
		traceID = tp[3:35]
	}
	fields := [...]accessField{
		{key: "application", str: route.Application, kind: 's'},
		{key: "deployment", str: route.Deployment.Name(), kind: 's'},
		{key: "replica", str: out.Replica, kind: 's'},
		{key: "method", str: r.Method, kind: 's'},
		{key: "path", str: r.URL.Path, kind: 's'},
		{key: "status", num: int64(out.Status), kind: 'i'},
		{key: "duration_ms", float: float64(took.Microseconds()) / 1000, kind: 'f'},
		{key: "request_id", str: requestID, kind: 's'},
		{key: "trace_id", str: traceID, kind: 's'},
	}
	bp := accessLines.Get().(*[]byte)
	*bp = appendAccessLine((*bp)[:0], a.json, a.now(), "access", fields[:])
	a.out.Write(*bp)
	accessLines.Put(bp)
}

// run flushes the buffer every accessFlushEvery until ctx ends, then once more.
func (a *accessLog) run(ctx context.Context) error {
	t := time.NewTicker(accessFlushEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			a.out.Flush()
		case <-ctx.Done():
			a.out.Flush()
			return nil
		}
	}
}

// lineBuffer is a bufio.Writer safe for concurrent use.
type lineBuffer struct {
	mu sync.Mutex
	w  *bufio.Writer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.w.Available() < len(p) {
		b.w.Flush() // whole lines only: another writer may share the file
	}
	return b.w.Write(p)
}

func (b *lineBuffer) Flush() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Flush()
}

// flush writes out what is buffered; a nil log has nothing.
func (a *accessLog) flush() {
	if a != nil {
		a.out.Flush()
	}
}

// accessLogEnabled reads Ray's logging_config.enable_access_log (default
// true) from the config the gateway starts with.
func accessLogEnabled(cfg *config.Config) bool {
	l := cfg.LoggingConfig
	return l == nil || l.EnableAccessLog == nil || *l.EnableAccessLog
}

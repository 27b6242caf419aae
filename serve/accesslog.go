package serve

import (
	"bufio"
	"context"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/router"
)

// The access log: one line per request routed to an application, like
// Ray's proxy access log, written through a buffer that is flushed a few
// times a second so a busy gateway makes no write call per request.

// accessFlushEvery is how often buffered access log lines are written out.
const accessFlushEvery = 200 * time.Millisecond

type accessLog struct {
	log *slog.Logger
	out *lineBuffer
}

// newAccessLog writes to w as text, or JSON when json is set.
func newAccessLog(w io.Writer, json bool) *accessLog {
	out := &lineBuffer{w: bufio.NewWriterSize(w, 64<<10)}
	var h slog.Handler = slog.NewTextHandler(out, nil)
	if json {
		h = slog.NewJSONHandler(out, nil)
	}
	return &accessLog{log: slog.New(h), out: out}
}

// request logs one answered request.
func (a *accessLog) request(r *http.Request, route router.Route, out *router.Outcome, took time.Duration, requestID string) {
	var traceID string
	if tp := out.Traceparent; len(tp) >= 35 {
		traceID = tp[3:35]
	}
	a.log.LogAttrs(r.Context(), slog.LevelInfo, "access",
		slog.String("application", route.Application),
		slog.String("deployment", route.Deployment.Name()),
		slog.String("replica", out.Replica),
		slog.String("method", r.Method),
		slog.String("path", r.URL.Path),
		slog.Int("status", out.Status),
		slog.Float64("duration_ms", float64(took.Microseconds())/1000),
		slog.String("request_id", requestID),
		slog.String("trace_id", traceID))
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
func accessLogEnabled(cfg *deploy.Config) bool {
	l := cfg.LoggingConfig
	return l == nil || l.EnableAccessLog == nil || *l.EnableAccessLog
}

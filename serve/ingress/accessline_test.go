package ingress

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"gantry.dev/gantry/router"
)

// TestAccessLineMatchesSlog holds the hand-written access line formats to
// what slog's own text and JSON handlers write for the same record.
func TestAccessLineMatchesSlog(t *testing.T) {
	at := time.Date(2026, 12, 1, 20, 24, 40, 123456789, time.FixedZone("X", 3600))
	for name, str := range map[string]string{
		"plain":        "stable_diffusion#painter#c5870eb1",
		"empty":        "",
		"space":        "/a path",
		"equals":       "a=b",
		"quote":        `say "hi"`,
		"backslash":    `a\b`,
		"control":      "tab\there\nnew\x01",
		"unicode":      "/café/ünïcode",
		"invalid utf8": "bad\xffbyte",
		"delete":       "del\x7f",
		"separators":   "line\u2028para\u2029",
		"html":         "<a href=x>&amp;</a>",
		"wide space":   "no\u00a0break",
	} {
		fields := []accessField{
			{key: "path", str: str, kind: 's'},
			{key: "status", num: 503, kind: 'i'},
			{key: "duration_ms", float: 37.125, kind: 'f'},
			{key: "whole_ms", float: 2, kind: 'f'},
		}
		attrs := []slog.Attr{slog.String("path", str), slog.Int("status", 503),
			slog.Float64("duration_ms", 37.125), slog.Float64("whole_ms", 2)}
		for _, json := range []bool{false, true} {
			var want bytes.Buffer
			var h slog.Handler = slog.NewTextHandler(&want, nil)
			if json {
				h = slog.NewJSONHandler(&want, nil)
			}
			rec := slog.NewRecord(at, slog.LevelInfo, "access", 0)
			rec.AddAttrs(attrs...)
			if err := h.Handle(context.Background(), rec); err != nil {
				t.Fatal(err)
			}
			got := appendAccessLine(nil, json, at, "access", fields)
			if string(got) != want.String() {
				t.Errorf("%s (json=%v):\n got %q\nwant %q", name, json, got, want.String())
			}
		}
	}
}

// BenchmarkAccessLogLine is the cost of one access log line on the request
// path (formatting into the buffer; the write happens on the flusher).
func BenchmarkAccessLogLine(b *testing.B) {
	a := newAccessLog(io.Discard, false)
	r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1/imagine", nil)
	route := router.Route{Prefix: "/", Application: "stable_diffusion",
		Deployment: router.NewDeployment("stable_diffusion", "painter", router.Settings{}, nil)}
	out := &router.Outcome{Status: 200, Replica: "stable_diffusion#painter#8bc74c9a", Attempts: 1,
		Traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a.request(r, route, out, 1234*time.Microsecond, "0123456789abcdef0123456789abcdef")
		}
	})
}

package router

import (
	"context"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Tracing: when the request's context carries a recording span (the
// ingress's, started with the TracerProvider the gateway was given), the
// router adds a span for the wait for a replica and one per attempt, and
// the replica sees the attempt span in its traceparent. Without one the
// router starts no span and the cost is one context lookup per request.
// The tracer comes from the ingress span's own provider: nothing global.

const tracerName = "gantry.dev/gantry/router"

// Outcome is what became of one forwarded request, for the access log and
// the ingress span.
type Outcome struct {
	// Status is the status answered (StatusClientClosed if the client left).
	Status int
	// Replica is the id of the replica that served the last attempt; "" if none did.
	Replica string
	// Attempts is how many attempts were made.
	Attempts int
	// Traceparent is the W3C trace context the replica saw last.
	Traceparent string
}

// spans is one request's tracing state; the zero value traces nothing.
type spans struct {
	tracer trace.Tracer
}

func tracingFor(ctx context.Context) spans {
	parent := trace.SpanFromContext(ctx)
	if !parent.IsRecording() {
		return spans{}
	}
	return spans{tracer: parent.TracerProvider().Tracer(tracerName)}
}

// queue starts the span of the wait for a replica slot.
func (s spans) queue(ctx context.Context, d *Deployment, attempt int) trace.Span {
	if s.tracer == nil {
		return nil
	}
	_, span := s.tracer.Start(ctx, "gantry.queue", trace.WithAttributes(
		attribute.String("gantry.application", d.app), attribute.String("gantry.deployment", d.name),
		attribute.Int("gantry.attempt", attempt), attribute.Int64("gantry.queued_before", d.Queued())))
	return span
}

// endQueue ends the queue span with the replica it got, or the error.
func endQueue(span trace.Span, rep *Replica, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	} else {
		span.SetAttributes(attribute.String("gantry.replica.id", rep.id))
	}
	span.End()
}

// attempt starts the span of one attempt to rep and makes it the trace
// context the replica sees, in *traceparent.
func (s spans) attempt(ctx context.Context, rep *Replica, n int, traceparent *string) trace.Span {
	if s.tracer == nil {
		return nil
	}
	_, span := s.tracer.Start(ctx, "gantry.attempt", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
		attribute.String("gantry.replica.id", rep.id), attribute.String("server.address", rep.addr),
		attribute.Int("gantry.retry", n-1)))
	*traceparent = traceparentOf(span.SpanContext())
	return span
}

// endAttempt ends an attempt span with the replica's status, or the error.
func endAttempt(span trace.Span, status int, err error) {
	if span == nil {
		return
	}
	if status > 0 {
		span.SetAttributes(attribute.Int("http.response.status_code", status))
	}
	switch {
	case err != nil:
		span.SetStatus(codes.Error, err.Error())
	case status >= 500:
		span.SetStatus(codes.Error, strconv.Itoa(status))
	}
	span.End()
}

// traceparentOf formats sc as a W3C traceparent header value.
func traceparentOf(sc trace.SpanContext) string {
	tid, sid := sc.TraceID(), sc.SpanID()
	flags := "00"
	if sc.IsSampled() {
		flags = "01"
	}
	return "00-" + tid.String() + "-" + sid.String() + "-" + flags
}

package ingress

import (
	"net/http"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"gantry.dev/gantry/router"
)

// observer traces and logs the ingress's routed requests: the ingress span
// (the parent of the router's queue and attempt spans) and the access log
// line. Either part may be off; with both off the ingress does not use it.
type observer struct {
	tracer trace.Tracer // nil: no tracing
	access *accessLog   // nil: no access log
}

// traceContext reads and writes W3C traceparent/tracestate.
var traceContext = propagation.TraceContext{}

func newObserver(tp trace.TracerProvider, access *accessLog) *observer {
	if tp == nil && access == nil {
		return nil
	}
	o := &observer{access: access}
	if tp != nil {
		o.tracer = tp.Tracer("gantry.dev/gantry/serve")
	}
	return o
}

// forward sends r on along route as the ingress would, inside the ingress
// span, and logs it once it is answered (or the handler is aborted).
func (o *observer) forward(w http.ResponseWriter, r *http.Request, route router.Route, requestID string) {
	start := time.Now()
	var out router.Outcome
	var span trace.Span
	if o.tracer != nil {
		ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
		ctx, span = o.tracer.Start(ctx, r.Method+" "+route.Prefix, trace.WithSpanKind(trace.SpanKindServer),
			trace.WithAttributes(
				attribute.String("http.request.method", r.Method),
				attribute.String("url.path", r.URL.Path),
				attribute.String("http.route", route.Prefix),
				attribute.String("gantry.application", route.Application),
				attribute.String("gantry.deployment", route.Deployment.Name()),
				attribute.String("gantry.request_id", requestID)))
		r = r.WithContext(ctx)
	}
	defer func() {
		if out.Status == 0 { // aborted mid-response
			out.Status = http.StatusBadGateway
		}
		if span != nil {
			span.SetAttributes(attribute.Int("http.response.status_code", out.Status),
				attribute.Int("gantry.attempts", out.Attempts), attribute.String("gantry.replica.id", out.Replica))
			if out.Status >= 500 && out.Status != router.StatusClientClosed {
				span.SetStatus(codes.Error, http.StatusText(out.Status))
			}
			span.End()
		}
		if o.access != nil {
			o.access.request(r, route, &out, time.Since(start), requestID)
		}
	}()
	route.Deployment.ForwardOutcome(w, r, route.Prefix, requestID, &out)
}

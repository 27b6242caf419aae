package serve

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"gantry.dev/gantry/internal/respond"
	"gantry.dev/gantry/router"
)

// The environment variables that tell a replica where the handle endpoint
// is and how to authenticate to it.
const (
	EnvHandleAddress = "GANTRY_HANDLE_ADDRESS"
	EnvHandleToken   = "GANTRY_HANDLE_TOKEN"
)

// Handles is the gateway's internal handle endpoint: Python replicas call
// the other deployments of their application through it
// (DeploymentHandle.remote), so handle calls go through the router like
// ingress traffic. It listens on a loopback port chosen by the system and
// answers only requests that carry its random token (Authorization:
// Bearer); both reach replicas in their environment (Env).
//
//	POST /{application}/{deployment}   the call, passed to router.Deployment.Call
//
// Errors the endpoint itself produces are plain text: 401 without the
// token, 404 for an unknown application or deployment, 405 for another
// method, 413 for a body over the limit; the router answers the rest (503,
// 504, 502).
type Handles struct {
	router  *router.Router
	token   string
	maxBody int64
	drain   time.Duration
	tracer  trace.Tracer // nil: no tracing
	log     *slog.Logger
	ln      net.Listener
	srv     *http.Server
}

// HandleOptions configure a Handles endpoint.
type HandleOptions struct {
	// Router routes the calls.
	Router *router.Router
	// MaxBodyBytes limits a call's body (http_options.max_request_body_bytes).
	MaxBodyBytes int64
	// MaxHeaderBytes limits a call's headers.
	MaxHeaderBytes int
	// DrainTimeout bounds waiting for calls in flight at shutdown.
	DrainTimeout time.Duration
	// TracerProvider, when set, starts a server span per call.
	TracerProvider trace.TracerProvider
	Logger         *slog.Logger
}

// NewHandles binds the handle endpoint on 127.0.0.1 and makes its token.
func NewHandles(o HandleOptions) (*Handles, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.DrainTimeout <= 0 {
		o.DrainTimeout = 30 * time.Second
	}
	var secret [32]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, errors.New("handle endpoint: " + err.Error())
	}
	h := &Handles{router: o.Router, token: hex.EncodeToString(secret[:]), maxBody: o.MaxBodyBytes,
		drain: o.DrainTimeout, log: o.Logger, ln: ln}
	if o.TracerProvider != nil {
		h.tracer = o.TracerProvider.Tracer("gantry.dev/gantry/serve")
	}
	h.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, MaxHeaderBytes: o.MaxHeaderBytes}
	return h, nil
}

// Addr is the endpoint's URL, http://127.0.0.1:PORT.
func (h *Handles) Addr() string { return "http://" + h.ln.Addr().String() }

// Env is what a replica needs to call through the endpoint.
func (h *Handles) Env() map[string]string {
	return map[string]string{EnvHandleAddress: h.Addr(), EnvHandleToken: h.token}
}

// Run serves until ctx ends, then stops accepting and waits (up to the
// drain timeout) for the calls in flight. It returns nil after a clean
// shutdown.
func (h *Handles) Run(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- h.srv.Serve(h.ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), h.drain)
	defer cancel()
	err := h.srv.Shutdown(sctx)
	<-errc
	if err != nil {
		h.log.Warn("handle calls still in flight at the end of the drain", "err", err)
		h.srv.Close()
	}
	return nil
}

// Close closes the listener of an endpoint that never ran.
func (h *Handles) Close() { h.ln.Close() }

func (h *Handles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.authorized(r) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		respond.Text(w, http.StatusUnauthorized, "handle calls need Authorization: Bearer $"+EnvHandleToken)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		respond.Text(w, http.StatusMethodNotAllowed, "handle calls are POST /{application}/{deployment}")
		return
	}
	app, dep, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	d, found := h.router.Table().Model(app + "/" + dep)
	if !ok || app == "" || dep == "" || !found {
		respond.Text(w, http.StatusNotFound, "no deployment "+strconv.Quote(dep)+" in application "+strconv.Quote(app)+
			": handle calls are POST /{application}/{deployment} to a deployment the gateway runs")
		return
	}
	if r.ContentLength > h.maxBody && h.maxBody > 0 {
		respond.Text(w, http.StatusRequestEntityTooLarge, "handle call body of "+strconv.FormatInt(r.ContentLength, 10)+
			" bytes is larger than http_options.max_request_body_bytes ("+strconv.FormatInt(h.maxBody, 10)+")")
		return
	}
	if h.maxBody > 0 && r.Body != nil && r.Body != http.NoBody {
		r.Body = http.MaxBytesReader(w, r.Body, h.maxBody)
	}
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 128 {
		var b [8]byte
		rand.Read(b[:])
		id = hex.EncodeToString(b[:])
	}
	w.Header()["X-Request-Id"] = []string{id}
	if h.tracer == nil {
		d.Call(w, r, id)
		return
	}
	h.traced(w, r, d, id)
}

// authorized reports whether r carries the endpoint's token.
func (h *Handles) authorized(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && subtle.ConstantTimeCompare([]byte(got), []byte(h.token)) == 1
}

// traced makes the call inside a server span, the parent of the router's
// queue and attempt spans, continuing the caller's trace.
func (h *Handles) traced(w http.ResponseWriter, r *http.Request, d *router.Deployment, id string) {
	ctx := propagation.TraceContext{}.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := h.tracer.Start(ctx, "handle "+d.Application()+"/"+d.Name(), trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(
			attribute.String("gantry.application", d.Application()),
			attribute.String("gantry.deployment", d.Name()),
			attribute.String("gantry.method", r.Header.Get("Gantry-Method")),
			attribute.String("gantry.request_id", id)))
	var out router.Outcome
	defer func() {
		if out.Status == 0 {
			out.Status = http.StatusBadGateway // aborted mid-response
		}
		span.SetAttributes(attribute.Int("http.response.status_code", out.Status),
			attribute.Int("gantry.attempts", out.Attempts), attribute.String("gantry.replica.id", out.Replica))
		if out.Status >= 500 && out.Status != router.StatusClientClosed {
			span.SetStatus(codes.Error, http.StatusText(out.Status))
		}
		span.End()
	}()
	d.CallOutcome(w, r.WithContext(ctx), id, &out)
}

package ingress

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"gantry.dev/gantry/router"
)

// ingress is the data-plane handler on the HTTP port.
type ingress struct {
	router   *router.Router
	limits   limits
	maxConns int // http_options.max_connections in force, for its 503
	draining *atomic.Bool
	// rand64 is the randomness for request and trace ids; injected for tests.
	rand64 func() uint64
	obs    *observer // tracing and access log; nil when both are off
}

func newIngress(rt *router.Router, lim limits, draining *atomic.Bool) *ingress {
	if lim.now == nil {
		lim.now = time.Now
	}
	return &ingress{router: rt, limits: lim, draining: draining, rand64: rand.Uint64}
}

func (in *ingress) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	w := in.limits.paceWriter(rw)
	defer w.deadline() // for the flush after the handler returns
	id := r.Header.Get("X-Request-Id")
	if id == "" || len(id) > 128 {
		id = in.hex(2)
	}
	w.Header()["X-Request-Id"] = []string{id}
	path := r.URL.Path
	if reserved(r) {
		// Past max_connections: only the gateway's own paths, and the
		// connection goes once answered.
		w.Header().Set("Connection", "close")
		if !strings.HasPrefix(path, "/-/") {
			in.full(w)
			return
		}
	}
	if strings.HasPrefix(path, "/-/") {
		in.gateway(w, r)
		return
	}
	if path == "/v2" || strings.HasPrefix(path, "/v2/") {
		in.oipHTTP(w, r)
		return
	}
	route, ok := in.router.Table().Match(path)
	if !ok {
		notFound(w, "Path '"+path+"' not found. Ping http://"+r.Host+"/-/routes for available routes.")
		return
	}
	if max := in.limits.maxBody; r.ContentLength > max {
		w.Header().Set("Connection", "close")
		http.Error(w, "request body of "+strconv.FormatInt(r.ContentLength, 10)+" bytes is larger than http_options.max_request_body_bytes ("+strconv.FormatInt(max, 10)+")", http.StatusRequestEntityTooLarge)
		return
	}
	w.paceBody(r, in.limits.maxBody, "http_options.max_request_body_bytes")
	if in.obs != nil {
		in.obs.forward(w, r, route, id)
		return
	}
	route.Deployment.Forward(w, r, route.Prefix, id)
}

// gateway answers the gateway's own paths under /-/.
func (in *ingress) gateway(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/-/healthz":
		if in.draining.Load() {
			http.Error(w, "This gateway is draining.", http.StatusServiceUnavailable)
			return
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		io.WriteString(w, "success")
	case "/-/routes":
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(in.router.Table().Routes())
	default:
		notFound(w, "Path '"+r.URL.Path+"' not found: paths under /-/ belong to the gateway (/-/healthz, /-/routes).")
	}
}

func notFound(w http.ResponseWriter, msg string) {
	http.Error(w, msg, http.StatusNotFound)
}

// hex returns n random 64-bit words as lower-case hex.
func (in *ingress) hex(n int) string {
	var b [16]byte
	for i := 0; i < n; i++ {
		v := in.rand64()
		for j := 0; j < 8; j++ {
			b[i*8+j] = byte(v >> (8 * j))
		}
	}
	return hex.EncodeToString(b[:n*8])
}

package ingress

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"gantry.dev/gantry/internal/connlimit"
)

// Connections. Each port holds at most its max_connections open
// (connlimit.Listener), so a flood on one port cannot use up the file
// descriptors the others and the replicas' connections need. The HTTP port
// accepts HTTPReserve more on which only the gateway's own /-/ paths are
// served, so /-/healthz keeps answering during a flood: a request for
// anything else on one is answered 503, and every reserved connection is
// closed after its answer, or connlimit.ReservedLife after it was
// accepted. Past that, and on the gRPC port past its max_connections, a
// new connection is closed as soon as it is accepted.

// reservedKey marks the context of a request on a reserved connection.
type reservedKey struct{}

// markReserved is the HTTP server's ConnContext.
func markReserved(ctx context.Context, c net.Conn) context.Context {
	if lc, ok := c.(*connlimit.Conn); ok && lc.Reserved() {
		return context.WithValue(ctx, reservedKey{}, true)
	}
	return ctx
}

func reserved(r *http.Request) bool { return r.Context().Value(reservedKey{}) != nil }

// full answers a request on a reserved connection that is not for /-/.
func (in *ingress) full(w http.ResponseWriter) {
	w.Header().Set("Retry-After", "1")
	textError(w, http.StatusServiceUnavailable, "the gateway holds http_options.max_connections ("+strconv.Itoa(in.maxConns)+
		") connections open on this port; retry later")
}

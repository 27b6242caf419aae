package serve

import (
	"log/slog"
	"net"

	"gantry.dev/gantry/internal/connlimit"
	"gantry.dev/gantry/serve/ingress"
)

// AdminConnections is the admin listener's fixed connection budget: its
// own, so the REST API, /metrics and the dashboard stay reachable when
// the ingress ports are flooded.
const AdminConnections = 256

// fdRoom is the file descriptors kept aside from the ingress ports'
// connections: the admin listener's budget, the HTTP port's reserve for
// /-/ paths, and a thousand for everything else a gateway opens (the
// replicas' idle pooled connections, their log files and pipes, the state
// dir).
const fdRoom = AdminConnections + ingress.HTTPReserve + 1024

// connectionCaps returns the HTTP and gRPC ports' connection caps: the
// configured ones (max_connections), lowered in proportion when both
// together need more file descriptors than nofile (the open-file limit;
// 0 if unknown) leaves once fdRoom is set aside. Each client connection
// counts twice: a request in flight holds a connection to a replica too.
func connectionCaps(nofile uint64, httpMax, grpcMax int) (int, int) {
	if nofile == 0 {
		return httpMax, grpcMax
	}
	avail := int64(nofile) / 4 // a floor for small limits
	if rest := (int64(nofile) - fdRoom) / 2; rest > avail {
		avail = rest
	}
	want := int64(httpMax) + int64(grpcMax)
	if want <= avail {
		return httpMax, grpcMax
	}
	scale := func(n int) int { return int(max(int64(n)*avail/want, 1)) }
	return scale(httpMax), scale(grpcMax)
}

// capConnections sets o's connection caps to what the open-file limit
// allows (raising its soft limit to the hard one first) and says so when
// that lowers the configured ones.
func capConnections(o *ingress.Options, httpMax, grpcMax int, log *slog.Logger) {
	nofile := connlimit.OpenFileBudget()
	o.MaxHTTPConnections, o.MaxGRPCConnections = connectionCaps(nofile, httpMax, grpcMax)
	if o.MaxHTTPConnections < httpMax || o.MaxGRPCConnections < grpcMax {
		log.Warn("connection limits lowered to fit the open-file limit (RLIMIT_NOFILE); raise it to allow more",
			"rlimit_nofile", nofile,
			"http_options.max_connections", o.MaxHTTPConnections, "configured_http", httpMax,
			"grpc_options.max_connections", o.MaxGRPCConnections, "configured_grpc", grpcMax)
	}
}

// capAdmin wraps the admin listener with its fixed budget.
func capAdmin(ln net.Listener) net.Listener { return connlimit.New(ln, AdminConnections, 0) }

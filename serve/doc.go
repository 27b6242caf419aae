// Package serve assembles a Gantry gateway from its two planes and the
// parts they serve:
//
//   - serve/ingress, the data plane: the HTTP ingress (port 8000), the
//     gRPC ingress (port 9000), the Open Inference Protocol, the access log
//     and the ingress span;
//   - serve/admin, the control plane's listener (port 8265): Ray's and
//     Gantry's REST API, the admin token, /metrics, pprof, the dashboard and
//     the endpoints behind it.
//
// NewGateway builds a gateway's components from explicit parts (cmd/gantry
// and the tests both use it): the Prometheus registry, the router, the
// controller on the caller's backend, and the Server (both planes, their
// listeners bound, so a busy port is reported before anything runs).
// Gateway.Run runs the controller, the Server and any Alongside components
// (on Kubernetes: the pod cache, the GantryService watcher, the leader
// election) in one errgroup, and stops them in the one order that loses no
// request: the ingress stops accepting and finishes the requests in flight,
// the admin listener closes, and only then does the controller drain and
// stop the replicas. serve/servetest runs real gateways this way for tests.
//
// New caps the ingress ports' connections to what the open-file limit
// allows (connections.go: it raises the soft RLIMIT_NOFILE to the hard one
// and sets room aside) and gives the admin listener its own budget of
// AdminConnections, so the admin API stays reachable when the ingress is
// flooded. Gateway.Run also runs memoryReturn (memory.go), which returns
// the memory a burst of large requests grew to the OS once the gateway is
// quiet.
//
// The API and the dashboard read the controller's status as an immutable
// deploy.Snapshot without a lock, and the numbers that change with every
// request (queued and in-flight requests, request counters) live, through
// Controller.Traffic.
package serve

// Package connlimit caps the connections a listener holds open, so that a
// flood of connections on one port cannot take the file descriptors every
// other port (and the replicas' connections) need.
//
// Listener accepts up to Max connections. Past that, up to Reserve more
// are accepted as reserved connections (Conn.Reserved): their deadlines
// are clamped to ReservedLife after they were accepted, and their server
// decides what they may do (the HTTP ingress serves only its own /-/
// paths on them, so health checks keep answering). Past both, a new
// connection is closed as soon as it is accepted: accepting keeps the
// kernel's backlog moving, so a client learns at once that it must retry
// rather than waiting for its connect to time out. Closing a connection
// frees its place.
//
// OpenFileBudget reads (and raises to the hard limit) the process's
// RLIMIT_NOFILE, for callers sizing Max so the limits add up to what the
// process may open.
package connlimit

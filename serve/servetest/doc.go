// Package servetest runs real gateways for tests, as cmd/gantry builds
// them (serve.NewGateway): on free loopback ports, with the local backend
// and real child processes as replicas (the test replicas and the gantry
// binary, built once by Main). It is imported only by tests: serve's, and
// the external tests of serve/ingress and serve/admin that need a whole
// gateway.
package servetest

package testenv

import (
	"net"
	"strconv"
	"testing"
)

// FreePortsOn returns n distinct TCP ports on host that were free a moment
// ago. Each listener is held until all are chosen, so none repeats; another
// process may still take a port before the caller binds it, so a server the
// test starts itself should listen on port 0 instead.
func FreePortsOn(host string, n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		ln, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, err
		}
		defer ln.Close()
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// FreePorts returns n distinct TCP ports on 127.0.0.1 that were free a
// moment ago (see FreePortsOn), for a program that takes ports as flags.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	ports, err := FreePortsOn("127.0.0.1", n)
	if err != nil {
		t.Fatalf("finding %d free ports: %v", n, err)
	}
	return ports
}

// FreePort returns one TCP port on 127.0.0.1 that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	return FreePorts(t, 1)[0]
}

// FreeAddr returns host:port on 127.0.0.1 where nothing listened a moment
// ago: an address that refuses connections, or one for a program that
// takes an address.
func FreeAddr(t testing.TB) string {
	t.Helper()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
}

package k8stest

import (
	"net"
	"testing"
)

// Two Envs at once (here: two reservations in one process; flock makes separate opens
// conflict just as separate processes do) never share a pod CIDR.
func TestReservePodCIDRHandsOutDisjointNets(t *testing.T) {
	_, pool, _ := net.ParseCIDR("127.64.0.0/10")
	a, releaseA, err := reservePodCIDR()
	if err != nil {
		t.Fatal(err)
	}
	defer releaseA()
	b, releaseB, err := reservePodCIDR()
	if err != nil {
		t.Fatal(err)
	}
	defer releaseB()
	if a == b {
		t.Fatalf("both reservations got %s", a)
	}
	for _, c := range []string{a, b} {
		ip, n, err := net.ParseCIDR(c)
		if err != nil || !pool.Contains(ip) {
			t.Errorf("reservation %q, want a /16 inside 127.64.0.0/10", c)
		}
		if ones, _ := n.Mask.Size(); ones != 16 {
			t.Errorf("reservation %q is a /%d, want /16", c, ones)
		}
	}
}

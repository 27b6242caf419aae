package admin

import (
	"fmt"
	"testing"
	"time"
)

// The limiter's memory is bounded too: at most MaxClients budgets, idle
// ones forgotten first, and past that new clients share one budget.
func TestReadLimiterTracksAtMostMaxClients(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	l := newReadLimiter(ReadLimit{BytesPerSecond: 100, Burst: 1000, RequestCost: 600, MaxClients: 2,
		Now: func() time.Time { return now }})
	key := func(i int) string { return fmt.Sprintf("10.0.0.%d:1234", i) }
	for i := 1; i <= 2; i++ {
		if ok, _ := l.admit(clientKey(key(i)), l.RequestCost); !ok {
			t.Fatalf("client %d refused with a full budget", i)
		}
	}
	// Both tracked clients are busy: clients 3 and 4 share the overflow
	// budget, so the second of them is already short.
	if ok, _ := l.admit(clientKey(key(3)), l.RequestCost); !ok {
		t.Fatal("client 3 refused")
	}
	if ok, _ := l.admit(clientKey(key(4)), l.RequestCost); !ok {
		t.Fatal("client 4 refused: the overflow budget had 400 left")
	}
	if ok, wait := l.admit(clientKey(key(5)), l.RequestCost); ok || wait != 2*time.Second {
		t.Fatalf("client 5: admitted %v, Retry-After %v; want refused for 2 s (200 bytes of debt at 100/s)", ok, wait)
	}
	if len(l.clients) != 2 {
		t.Fatalf("%d clients tracked, want 2", len(l.clients))
	}
	// Once idle (refilled), tracked clients are forgotten to make room.
	now = now.Add(time.Minute)
	if ok, _ := l.admit(clientKey(key(6)), l.RequestCost); !ok || len(l.clients) != 1 {
		t.Fatalf("client 6 after a quiet minute: admitted %v, %d clients tracked; want admitted, 1", ok, len(l.clients))
	}
	// IPv6 clients count by /64.
	if a, b := clientKey("[2001:db8::1]:1"), clientKey("[2001:db8::ffff:1]:2"); a != b {
		t.Errorf("two addresses of one /64 have budgets %v and %v, want one", a, b)
	}
	if a, b := clientKey("[::ffff:10.0.0.1]:1"), clientKey("10.0.0.1:1"); a != b {
		t.Errorf("a v4-mapped address has budget %v, its IPv4 form %v; want one", a, b)
	}
}

package router

// p2c chooses replicas by power of two choices: two at random, the less busy
// of those available wins. It holds no state but its randomness, so the
// request path reads nothing shared but the replicas' atomic counters.
type p2c struct {
	// intn returns a random int in [0, n); injected so tests can pin it.
	intn func(n int) int
}

// pick chooses a replica of pool below limit and not in skip, and takes its
// slot. If neither of the two random choices is available it scans once
// from a random start, so a free replica is never missed. It returns nil
// when no replica can take the request now. It never blocks.
func (p p2c) pick(pool []*Replica, limit int64, skip *tried) *Replica {
	n := len(pool)
	if n == 0 {
		return nil
	}
	ok := func(r *Replica) bool { return r.Available(limit) && (skip == nil || !skip.has(r)) }
	if n > 1 {
		a, b := pool[p.intn(n)], pool[p.intn(n)]
		if b.Inflight() < a.Inflight() {
			a, b = b, a
		}
		for _, r := range [2]*Replica{a, b} {
			if ok(r) && r.acquire(limit) {
				return r
			}
		}
	}
	start := 0
	if n > 1 {
		start = p.intn(n)
	}
	for i := range n {
		r := pool[(start+i)%n]
		if ok(r) && r.acquire(limit) {
			return r
		}
	}
	return nil
}

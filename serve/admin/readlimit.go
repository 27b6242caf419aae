package admin

import (
	"math"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"sync"
	"time"
)

// The heavy reads of the admin listener (the applications views, the time
// series, the event and log endpoints, whose follow=1 streams stay open)
// cost the gateway work in proportion to what they answer. Each client
// address gets a budget of bytes that refills at a steady rate: a request
// is let in unless its client's budget is in debt and is charged a fixed
// cost up front (more for a stream) plus every byte it answers, so a
// client that asks for too much gets 429 with Retry-After until its
// budget has refilled, and other clients are not slowed.

// ReadLimit configures the per-client budget of heavy reads.
type ReadLimit struct {
	// BytesPerSecond is how fast a client's budget refills; Burst is its
	// size, what a client may read at once after a quiet spell.
	BytesPerSecond, Burst int64
	// RequestCost is charged per request, on top of its answer's bytes;
	// StreamCost per follow=1 stream opened.
	RequestCost, StreamCost int64
	// MaxClients is how many client addresses are tracked; when full,
	// idle ones are forgotten and, if none is idle, the others share one
	// budget.
	MaxClients int
	// Now is the clock; default time.Now.
	Now func() time.Time
}

// DefaultReadLimit is the admin listener's budget when Options.ReadLimit
// is nil: 16 MiB a second per client address, bursts of 64 MiB, 16 KiB a
// request and 1 MiB a stream (so at most 64 streams opened at once and 16
// a second after that), 4,096 clients tracked.
func DefaultReadLimit() ReadLimit {
	return ReadLimit{BytesPerSecond: 16 << 20, Burst: 64 << 20, RequestCost: 16 << 10, StreamCost: 1 << 20, MaxClients: 4096}
}

// readLimiter keeps one byte budget per client: an IPv4 address, or an
// IPv6 /64 (one host usually holds a whole /64).
type readLimiter struct {
	ReadLimit
	mu       sync.Mutex
	clients  map[netip.Prefix]*budget
	overflow budget // shared by new clients once MaxClients are tracked
}

type budget struct {
	tokens float64 // bytes; negative: in debt
	last   time.Time
}

func newReadLimiter(l ReadLimit) *readLimiter {
	d := DefaultReadLimit()
	if l.BytesPerSecond <= 0 {
		l.BytesPerSecond = d.BytesPerSecond
	}
	if l.Burst <= 0 {
		l.Burst = d.Burst
	}
	if l.RequestCost < 0 {
		l.RequestCost = 0
	}
	if l.StreamCost < 0 {
		l.StreamCost = 0
	}
	if l.MaxClients <= 0 {
		l.MaxClients = d.MaxClients
	}
	if l.Now == nil {
		l.Now = time.Now
	}
	return &readLimiter{ReadLimit: l, clients: map[netip.Prefix]*budget{}, overflow: budget{tokens: float64(l.Burst)}}
}

// clientKey is the budget key of a request's remote address.
func clientKey(remoteAddr string) netip.Prefix {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Prefix{}
	}
	ip = ip.Unmap()
	if ip.Is4() {
		return netip.PrefixFrom(ip, 32)
	}
	p, _ := ip.WithZone("").Prefix(64)
	return p
}

// refill brings b up to now.
func (l *readLimiter) refill(b *budget, now time.Time) {
	if dt := now.Sub(b.last).Seconds(); dt > 0 {
		b.tokens = math.Min(float64(l.Burst), b.tokens+dt*float64(l.BytesPerSecond))
	}
	b.last = now
}

// budgetOf returns key's budget, refilled; l.mu is held.
func (l *readLimiter) budgetOf(key netip.Prefix, now time.Time) *budget {
	b := l.clients[key]
	if b == nil {
		if len(l.clients) >= l.MaxClients {
			for k, c := range l.clients {
				if l.refill(c, now); c.tokens >= float64(l.Burst) {
					delete(l.clients, k) // idle: as good as new
				}
			}
		}
		if len(l.clients) >= l.MaxClients {
			b = &l.overflow
		} else {
			b = &budget{tokens: float64(l.Burst), last: now}
			l.clients[key] = b
		}
	}
	l.refill(b, now)
	return b
}

// admit charges cost to key's budget unless it is in debt; otherwise it
// says how long until it is (at least a second).
func (l *readLimiter) admit(key netip.Prefix, cost int64) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.budgetOf(key, l.Now())
	if b.tokens < 0 {
		secs := math.Ceil(-b.tokens / float64(l.BytesPerSecond))
		return false, time.Duration(max(secs, 1)) * time.Second
	}
	b.tokens -= float64(cost)
	return true, 0
}

// charge takes n bytes from key's budget, into debt if need be.
func (l *readLimiter) charge(key netip.Prefix, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.budgetOf(key, l.Now()).tokens -= float64(n)
}

// heavy wraps a heavy read: refused with 429 and Retry-After while the
// client's budget is spent, else charged its cost and every byte written.
func (l *readLimiter) heavy(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := clientKey(r.RemoteAddr)
		cost := l.RequestCost
		if follow(r.URL.Query()) {
			cost = l.StreamCost
		}
		if ok, wait := l.admit(key, cost); !ok {
			secs := int(wait / time.Second)
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			textError(w, http.StatusTooManyRequests, "429 Too Many Requests: this client address has read more "+
				"from the admin API's heavy endpoints than its budget of "+fmtBytes(l.BytesPerSecond)+
				" a second (bursts of "+fmtBytes(l.Burst)+"; each request counts "+fmtBytes(l.RequestCost)+
				" and each follow=1 stream "+fmtBytes(l.StreamCost)+", plus its answer); retry after "+
				strconv.Itoa(secs)+" s (Retry-After header)")
			return
		}
		h(&chargingWriter{ResponseWriter: w, charge: func(n int) { l.charge(key, n) }}, r)
	}
}

// chargingWriter charges every byte written; it flushes and unwraps, so
// server-sent event streams and http.ResponseController work through it.
type chargingWriter struct {
	http.ResponseWriter
	charge func(n int)
}

func (c *chargingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.charge(n)
	return n, err
}

func (c *chargingWriter) Flush() {
	if f, ok := c.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (c *chargingWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// fmtBytes says n in the largest binary unit that divides it.
func fmtBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

package router

import (
	"context"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Replica is the router's handle on one replica: where it listens and how
// busy it is. It lives as long as the replica is in any pool; counters are
// atomics so the request path takes no lock.
type Replica struct {
	id        string
	addr      string
	inflight  atomic.Int64
	draining  atomic.Bool
	drained   chan struct{} // signalled when draining and inflight reaches 0
	breaker   *breaker
	conns     *connPool       // requests with no body or a buffered one
	transport *http.Transport // requests whose body streams
	served    atomic.Uint64
	downUntil atomic.Int64 // unix nanos: refused a connection, so out of picking until then
	now       func() time.Time
	grpc      *grpcConn                // protocol grpc only; see grpc_replica.go
	waker     waker                    // tells the deployment when the replica is back (wake.go)
	models    atomic.Pointer[modelSet] // multiplexed models it has loaded (multiplex.go)
	// onTrip counts the breaker's openings in the deployment's metrics;
	// set by SetReplicas, called under gobreaker's lock.
	onTrip atomic.Pointer[func()]
}

// ReplicaOptions tune a Replica's connections and breaker.
type ReplicaOptions struct {
	// DialTimeout bounds connecting to the replica; default 2s.
	DialTimeout time.Duration
	// BreakerFailures is the number of consecutive failures that trip the
	// breaker; default 5.
	BreakerFailures uint32
	// BreakerOpen is how long a tripped breaker keeps the replica out before
	// one probe request is let through; default 2s.
	BreakerOpen time.Duration
	// Now is the clock; default time.Now.
	Now func() time.Time
	// AfterFunc arms the timer that tells the replica's deployment when
	// its breaker's open period or its refused mark ends; default
	// time.AfterFunc. It must run on the same time as Now.
	AfterFunc AfterFunc
	// Protocol is the replica's protocol: "http" (default) or "grpc".
	Protocol string
}

// NewReplica returns a handle for the replica id listening on addr (host:port).
func NewReplica(id, addr string, opts ReplicaOptions) *Replica {
	if opts.DialTimeout <= 0 {
		opts.DialTimeout = 2 * time.Second
	}
	dialer := &net.Dialer{Timeout: opts.DialTimeout, KeepAlive: 30 * time.Second}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.AfterFunc == nil {
		opts.AfterFunc = realAfterFunc
	}
	r := &Replica{
		now:     opts.Now,
		conns:   newConnPool(addr, dialer, 1024),
		id:      id,
		addr:    addr,
		drained: make(chan struct{}, 1),
		breaker: newBreaker(id, opts.BreakerFailures, opts.BreakerOpen, opts.Now),
		waker:   waker{afterFunc: opts.AfterFunc},
		transport: &http.Transport{
			DialContext: dialer.DialContext,
			// Idle connections are bounded by the replica's concurrency in
			// practice; a low cap (Go's default is 2) makes a busy proxy open
			// and close connections constantly.
			MaxIdleConnsPerHost:   4096,
			IdleConnTimeout:       90 * time.Second,
			DisableCompression:    true,
			ExpectContinueTimeout: time.Second,
			WriteBufferSize:       16 << 10,
			ReadBufferSize:        16 << 10,
		},
	}
	r.breaker.onOpen = r.breakerOpened
	if opts.Protocol == "grpc" {
		r.grpc = newGRPCConn(addr, opts.DialTimeout)
	}
	return r
}

// ID is the replica's id.
func (r *Replica) ID() string { return r.id }

// Addr is the host:port the replica serves on.
func (r *Replica) Addr() string { return r.addr }

// Inflight is the number of requests the replica is serving now.
func (r *Replica) Inflight() int64 { return r.inflight.Load() }

// Served is the number of requests the replica has been given.
func (r *Replica) Served() uint64 { return r.served.Load() }

// Draining reports whether the replica has stopped taking new requests.
func (r *Replica) Draining() bool { return r.draining.Load() }

// Available reports whether the replica can take one more request under
// limit: not draining, below the limit, and its breaker not open.
func (r *Replica) Available(limit int64) bool {
	return !r.draining.Load() && r.inflight.Load() < limit && r.breaker.allows() && !r.down()
}

// breakerOpened runs as the breaker's open period begins: it is counted,
// and the deployment is told when the period ends.
func (r *Replica) breakerOpened(until time.Time) {
	if f := r.onTrip.Load(); f != nil {
		(*f)()
	}
	r.wakeAt(until)
}

// refusedFor is how long a replica that refused a connection stays out of
// picking: a process that does not accept connections is gone or not yet
// listening, and the controller removes a dead one within milliseconds.
const refusedFor = time.Second

// markRefused takes the replica out of picking for refusedFor, and has its
// deployment told when that ends.
func (r *Replica) markRefused() {
	until := r.now().Add(refusedFor)
	r.downUntil.Store(until.UnixNano())
	r.wakeAt(until)
}

// down reports whether the replica recently refused a connection. The
// clock is read only after one did.
func (r *Replica) down() bool {
	until := r.downUntil.Load()
	return until != 0 && r.now().UnixNano() < until
}

// acquire takes one of the replica's limit slots; it fails if the replica is
// full or draining.
func (r *Replica) acquire(limit int64) bool {
	for {
		n := r.inflight.Load()
		if n >= limit {
			return false
		}
		if r.inflight.CompareAndSwap(n, n+1) {
			break
		}
	}
	// Checked after the increment: Drain sets the flag before it reads the
	// count, so either Drain sees this request or this request sees Drain.
	if r.draining.Load() || !r.breaker.allows() || r.down() {
		r.release()
		return false
	}
	r.served.Add(1)
	return true
}

// release returns a slot and wakes a Drain waiting for the last one.
func (r *Replica) release() {
	if r.inflight.Add(-1) == 0 && r.draining.Load() {
		select {
		case r.drained <- struct{}{}:
		default:
		}
	}
}

// Drain stops new requests from reaching the replica and waits until the
// ones it has finish or ctx ends. It reports whether the replica emptied.
func (r *Replica) Drain(ctx context.Context) bool {
	r.draining.Store(true)
	for r.inflight.Load() > 0 {
		select {
		case <-r.drained:
		case <-ctx.Done():
			return r.inflight.Load() == 0
		}
	}
	return true
}

// Close releases the replica's idle connections and stops its timer.
func (r *Replica) Close() {
	r.stopWaking()
	r.conns.close()
	r.transport.CloseIdleConnections()
	r.grpc.close()
}

// roundTrip sends one attempt. Streamed bodies go through http.Transport,
// which reads the response while the body is still being written; the rest
// take the pooled connections, served by the request's own goroutine.
func (r *Replica) roundTrip(ctx context.Context, req, out *http.Request, body *requestBody, fw *forwarding) (*http.Response, error) {
	if out != nil {
		out.URL.Host = r.addr
		body.attach(out)
		return r.transport.RoundTrip(out.WithContext(ctx))
	}
	return r.conns.roundTrip(ctx, req, fw, body.buf)
}

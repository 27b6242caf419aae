package router

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"syscall"
	"time"
)

// connPool keeps idle HTTP/1.1 connections to one replica. The request's
// own goroutine writes the request and reads the response on a pooled
// connection: unlike http.Transport, no reader and writer goroutines per
// connection, so no hand-offs between goroutines per request. The protocol
// itself is the standard library's (Request.Write, http.ReadResponse).
type connPool struct {
	addr   string
	dialer *net.Dialer
	idle   chan *upConn
	closed atomic.Bool
	now    func() time.Time // the clock idle times are measured on
}

// upConn is one connection to a replica.
type upConn struct {
	nc       net.Conn
	br       *bufio.Reader
	bw       *bufio.Writer
	idleFrom time.Time
	reused   bool // taken from the pool: it may have been closed by the replica
}

// staleCheckAfter is how long a connection may sit idle before it is
// checked for a close by the replica (a peek, one syscall) before reuse.
const staleCheckAfter = 200 * time.Millisecond

func newConnPool(addr string, dialer *net.Dialer, maxIdle int) *connPool {
	return &connPool{addr: addr, dialer: dialer, idle: make(chan *upConn, maxIdle), now: time.Now}
}

// get returns an idle connection that still looks alive, or dials one.
func (p *connPool) get(ctx context.Context) (*upConn, error) {
	for {
		select {
		case c := <-p.idle:
			if p.now().Sub(c.idleFrom) > staleCheckAfter && !c.alive() {
				c.nc.Close()
				continue
			}
			c.reused = true
			return c, nil
		default:
		}
		return p.dial(ctx)
	}
}

// dial opens a new connection to the replica.
func (p *connPool) dial(ctx context.Context) (*upConn, error) {
	nc, err := p.dialer.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return nil, err
	}
	return &upConn{nc: nc, br: bufio.NewReaderSize(nc, 16<<10), bw: bufio.NewWriterSize(nc, 16<<10)}, nil
}

// put returns c to the pool, or closes it if the pool is full or closed.
func (p *connPool) put(c *upConn) {
	if p.closed.Load() {
		c.nc.Close()
		return
	}
	c.idleFrom = p.now()
	select {
	case p.idle <- c:
	default:
		c.nc.Close()
	}
}

// close closes every idle connection; later puts close theirs.
func (p *connPool) close() {
	p.closed.Store(true)
	for {
		select {
		case c := <-p.idle:
			c.nc.Close()
		default:
			return
		}
	}
}

// alive peeks at the socket without blocking: an idle connection with
// readable data or EOF has been closed (or misused) by the replica.
func (c *upConn) alive() bool {
	sc, ok := c.nc.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	alive := false
	var buf [1]byte
	rc.Read(func(fd uintptr) bool {
		n, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		alive = n < 0 && errors.Is(err, syscall.EAGAIN)
		return true
	})
	return alive
}

// roundTrip sends req (as writeHead rewrites it, with body) on a pooled
// connection and reads the response head.
// The response body, when read to its end, returns the connection to the
// pool; closing it early discards the connection. A cancelled ctx unblocks
// the connection's reads and writes.
//
// An idempotent request whose pooled connection fails before a byte of the
// answer arrives goes once more on a fresh connection, as http.Transport
// does: the replica closed the idle connection (idle timeout, restart, or
// death) while the request was on its way, which says nothing about the
// replica, so it costs no attempt. If the replica is gone, the fresh dial
// is refused, and that is the attempt's error.
func (p *connPool) roundTrip(ctx context.Context, req *http.Request, fw *forwarding, body []byte) (*http.Response, error) {
	c, err := p.get(ctx)
	if err != nil {
		return nil, err
	}
	resp, err := p.exchange(ctx, c, req, fw, body)
	var stale *staleConnError
	if errors.As(err, &stale) && c.reused && fw.idempotent && ctx.Err() == nil {
		if c, err = p.dial(ctx); err != nil {
			return nil, err
		}
		resp, err = p.exchange(ctx, c, req, fw, body)
	}
	return resp, err
}

// staleConnError is a failure on a connection before any byte of the
// answer was read.
type staleConnError struct{ err error }

func (e *staleConnError) Error() string { return e.err.Error() }
func (e *staleConnError) Unwrap() error { return e.err }

// exchange writes the request on c and reads the response head.
func (p *connPool) exchange(ctx context.Context, c *upConn, req *http.Request, fw *forwarding, body []byte) (*http.Response, error) {
	stop := context.AfterFunc(ctx, func() { c.nc.SetDeadline(time.Unix(1, 0)) })
	writeHead(c.bw, req, fw, len(body))
	c.bw.Write(body)
	err := c.bw.Flush()
	if err != nil {
		stop()
		c.nc.Close()
		return nil, &staleConnError{fmt.Errorf("sending request: %w", err)}
	}
	if _, err := c.br.Peek(1); err != nil {
		stop()
		c.nc.Close()
		return nil, &staleConnError{fmt.Errorf("reading response: %w", err)}
	}
	resp, err := readResponse(c.br, req)
	if err != nil {
		stop()
		c.nc.Close()
		return nil, fmt.Errorf("reading response: %w", err)
	}
	resp.Body = &pooledBody{rc: resp.Body, c: c, p: p, stop: stop, reusable: !resp.Close}
	return resp, nil
}

// readResponse reads the final response, skipping 1xx informational ones.
func readResponse(br *bufio.Reader, req *http.Request) (*http.Response, error) {
	for {
		resp, err := http.ReadResponse(br, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode >= 200 || resp.StatusCode == http.StatusSwitchingProtocols {
			return resp, nil
		}
	}
}

// pooledBody returns its connection to the pool once read to EOF.
type pooledBody struct {
	rc       io.ReadCloser
	c        *upConn
	p        *connPool
	stop     func() bool
	reusable bool
	done     bool
}

func (b *pooledBody) Read(buf []byte) (int, error) {
	n, err := b.rc.Read(buf)
	if err == io.EOF && !b.done {
		b.done = true
		if b.stop() && b.reusable {
			b.p.put(b.c)
		} else {
			b.c.nc.Close()
		}
	}
	return n, err
}

func (b *pooledBody) Close() error {
	if !b.done {
		b.done = true
		b.stop()
		b.c.nc.Close()
	}
	return nil
}

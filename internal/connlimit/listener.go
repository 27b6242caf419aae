package connlimit

import (
	"net"
	"sync/atomic"
	"time"
)

// ReservedLife bounds a reserved connection: its reads and writes fail
// this long after it was accepted, whatever deadlines its server sets.
const ReservedLife = 2 * time.Second

// Listener is a net.Listener that holds at most Max connections open, and
// Reserve more reserved ones. It is safe for concurrent use.
type Listener struct {
	net.Listener
	max, reserve   int64
	open, reserved atomic.Int64
	refused        atomic.Uint64
	now            func() time.Time
}

// New caps ln at most connections (at least 1) and reserve reserved ones.
func New(ln net.Listener, most, reserve int) *Listener {
	return &Listener{Listener: ln, max: int64(max(most, 1)), reserve: int64(max(reserve, 0)), now: time.Now}
}

// Max is the most connections the listener holds open, reserved ones aside.
func (l *Listener) Max() int { return int(l.max) }

// Open is the number of connections open now, reserved ones aside.
func (l *Listener) Open() int { return int(l.open.Load()) }

// Refused is the number of connections closed at once because the
// listener was full.
func (l *Listener) Refused() uint64 { return l.refused.Load() }

// Accept waits for the next connection the listener has room for; it
// closes those it has no room for.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			return &Conn{Conn: c, count: &l.open}, nil
		}
		l.open.Add(-1)
		if l.reserved.Add(1) <= l.reserve {
			rc := &Conn{Conn: c, count: &l.reserved, until: l.now().Add(ReservedLife)}
			rc.Conn.SetDeadline(rc.until)
			return rc, nil
		}
		l.reserved.Add(-1)
		l.refused.Add(1)
		c.Close()
	}
}

// Conn is a connection a Listener accepted; closing it frees its place.
type Conn struct {
	net.Conn
	count  *atomic.Int64
	closed atomic.Bool
	until  time.Time // zero unless reserved
}

// Reserved reports whether c was accepted past the listener's Max.
func (c *Conn) Reserved() bool { return !c.until.IsZero() }

// Close closes the connection and frees its place, once.
func (c *Conn) Close() error {
	if c.closed.CompareAndSwap(false, true) {
		c.count.Add(-1)
	}
	return c.Conn.Close()
}

// CloseWrite shuts the writing side down when the connection can (TCP):
// an HTTP server does so before closing, so that its last answer is not
// lost to a reset while the client is still sending.
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

func (c *Conn) clamp(t time.Time) time.Time {
	if c.until.IsZero() || (!t.IsZero() && t.Before(c.until)) {
		return t
	}
	return c.until
}

// SetDeadline sets the read and write deadlines (clamped for a reserved
// connection).
func (c *Conn) SetDeadline(t time.Time) error { return c.Conn.SetDeadline(c.clamp(t)) }

// SetReadDeadline sets the read deadline (clamped for a reserved connection).
func (c *Conn) SetReadDeadline(t time.Time) error { return c.Conn.SetReadDeadline(c.clamp(t)) }

// SetWriteDeadline sets the write deadline (clamped for a reserved connection).
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.Conn.SetWriteDeadline(c.clamp(t)) }

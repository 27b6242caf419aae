package connlimit

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

func listen(t *testing.T, most, reserve int) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := New(ln, most, reserve)
	t.Cleanup(func() { l.Close() })
	return l
}

func dial(t *testing.T, l *Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// closedByPeer reports whether the server end of c has been closed.
func closedByPeer(c net.Conn) bool {
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.Read(make([]byte, 1))
	return errors.Is(err, io.EOF)
}

func TestListenerHoldsMaxThenReserveThenRefuses(t *testing.T) {
	l := listen(t, 2, 1)
	var accepted []*Conn
	for range 3 {
		dial(t, l)
		c, err := l.Accept()
		if err != nil {
			t.Fatal(err)
		}
		accepted = append(accepted, c.(*Conn))
	}
	if accepted[0].Reserved() || accepted[1].Reserved() || !accepted[2].Reserved() {
		t.Fatalf("reserved: %v %v %v, want only the third", accepted[0].Reserved(), accepted[1].Reserved(), accepted[2].Reserved())
	}

	// Full: the next connection is closed at once; Accept waits for one it
	// has room for.
	refused := dial(t, l)
	next := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			next <- c
		}
		close(next)
	}()
	if !closedByPeer(refused) {
		t.Fatal("a connection past max and reserve was not closed")
	}
	testenv.WaitFor(t, 5*time.Second, "the refusal to be counted", func() bool { return l.Refused() == 1 })

	// Closing one frees its place (once, however often it is closed).
	accepted[0].Close()
	accepted[0].Close()
	dial(t, l)
	c := <-next
	if c == nil || c.(*Conn).Reserved() || l.Open() != 2 {
		t.Fatalf("after a close: %v, open %d; want an ordinary connection and 2 open", c, l.Open())
	}
	c.Close()
}

func TestReservedConnectionDeadlinesAreClamped(t *testing.T) {
	l := listen(t, 1, 1)
	dial(t, l)
	first, _ := l.Accept()
	defer first.Close()
	client := dial(t, l)
	c, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	rc := c.(*Conn)
	// A server asks for no deadline; the reserved connection still ends.
	rc.until = time.Now().Add(200 * time.Millisecond)
	rc.SetReadDeadline(time.Time{})
	_, err = rc.Read(make([]byte, 1))
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read on a reserved connection past its life: %v, want a deadline error", err)
	}
	rc.Close()
	if !closedByPeer(client) {
		t.Fatal("the reserved connection was not closed")
	}
}

package reliability

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"
)

// rawTimeout bounds every read of a raw client, so a gateway that never
// answers fails the test instead of hanging it.
const rawTimeout = 20 * time.Second

// dial opens a TCP connection to addr, closed when the test ends. A
// positive rcvbuf sets the socket's receive buffer before connecting, so
// a client that never reads holds the gateway's writes back at once.
func dial(t *testing.T, addr string, rcvbuf int) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			var serr error
			err := c.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
			if err != nil {
				return err
			}
			return serr
		}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("connecting to %s: %v", addr, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// answer is one response a raw client read.
type answer struct {
	code   int
	header http.Header
	body   string
	took   time.Duration // from the request's last byte to the whole answer
}

// readAnswer reads one response from c within rawTimeout.
func readAnswer(c net.Conn, start time.Time) (answer, error) {
	return readAnswerWithin(c, start, rawTimeout)
}

// readAnswerWithin reads one response from c within d.
func readAnswerWithin(c net.Conn, start time.Time, d time.Duration) (answer, error) {
	c.SetReadDeadline(time.Now().Add(d))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{code: resp.StatusCode, header: resp.Header, body: string(b), took: time.Since(start)}, err
}

// exchange writes req (a whole HTTP/1.1 request, as bytes on the wire) on
// a new connection to addr and reads the answer.
func exchange(t *testing.T, addr, req string) answer {
	t.Helper()
	c := dial(t, addr, 0)
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatalf("writing %.40q: %v", req, err)
	}
	a, err := readAnswer(c, time.Now())
	if err != nil {
		t.Fatalf("reading the answer to %.40q: %v", req, err)
	}
	return a
}

// readAll reads and closes resp's body; a body cut short reads as what
// arrived.
func readAll(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

package router

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// holdAfterBody is the gateway's ResponseWriter with one change: once the
// whole body has been written it flushes it to the client and waits until
// the server has seen the client close its connection. That makes the
// window of issue 12's finding 2 — a client that reads the complete
// response and closes at once, while the router is still deciding the
// status — happen every time instead of now and then.
type holdAfterBody struct {
	http.ResponseWriter
	r    *http.Request
	left int // body bytes still to write
}

func (h *holdAfterBody) Write(b []byte) (int, error) {
	n, err := h.ResponseWriter.Write(b)
	if h.left -= n; h.left == 0 {
		h.ResponseWriter.(http.Flusher).Flush()
		select {
		case <-h.r.Context().Done(): // the client has closed; the server noticed
		case <-time.After(10 * time.Second):
		}
	}
	return n, err
}

// A response written whole is counted with its status, not as a client
// disconnect (499), even when the client closes its connection the moment
// it has read the last byte.
func TestCompleteResponseIsNotCountedAsClientClosed(t *testing.T) {
	const size = 256 << 10
	body := strings.Repeat("x", size)
	rep, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.WriteString(w, body)
	})
	reg := prometheus.NewRegistry()
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, NewMetrics(reg))
	d.SetReplicas([]*Replica{rep})
	outcomes := make(chan Outcome, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var out Outcome
		d.ForwardOutcome(&holdAfterBody{ResponseWriter: w, r: r, left: size}, r, "/", "id", &out)
		outcomes <- out
	}))
	t.Cleanup(srv.Close)

	c, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "GET /big HTTP/1.1\r\nHost: g\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	c.Close() // at once, the whole response read
	if err != nil || resp.StatusCode != http.StatusOK || len(got) != size {
		t.Fatalf("client got %d, %d bytes, %v; want 200 and %d bytes", resp.StatusCode, len(got), err, size)
	}

	out := <-outcomes
	if out.Status != http.StatusOK {
		t.Errorf("Outcome.Status = %d for a response the client read whole, want 200", out.Status)
	}
	if n := count(t, d, "499"); n != 0 {
		t.Errorf("gantry_requests_total{code=499} = %v, want 0", n)
	}
	if n := count(t, d, "200"); n != 1 {
		t.Errorf("gantry_requests_total{code=200} = %v, want 1", n)
	}
}

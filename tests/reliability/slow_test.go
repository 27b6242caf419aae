package reliability

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// slowLimits are the http_options of the slow-client attacks: a client
// below 1 KiB/s for more than a second is cut.
const slowLimits = `  min_body_rate_bytes_per_s: 1024
  min_response_rate_bytes_per_s: 1024
  slow_client_grace_s: 1
`

// Finding 2, the body side: four connections sending a chunked body at one
// byte a second held all four of app's replica slots (normal clients got
// 504 after request_timeout_s). Replayed on raw TCP at 1 byte/s: each is
// cut with 408 naming http_options.min_body_rate_bytes_per_s, and the
// normal client is served throughout.
func TestSlowBodiesAreCut(t *testing.T) {
	g := startGateway(t, twoReplicas(slowLimits, ""))
	g.waitRunning(t, "app", "d", 2, "/app/id")
	g.replay(t, "2: 4 chunked bodies at 1 byte/s", "/app/id", func(t *testing.T) string {
		answers := make([]answer, 4)
		var wg sync.WaitGroup
		for i := range answers {
			c := dial(t, g.addr, 0)
			wg.Go(func() { answers[i] = trickle(t, c) })
		}
		wg.Wait()
		var took figures
		for _, a := range answers {
			took.latency = append(took.latency, a.took)
			if a.code != http.StatusRequestTimeout || !strings.Contains(a.body, "http_options.min_body_rate_bytes_per_s") {
				t.Errorf("chunked body at 1 byte/s: %d %q; want 408 naming http_options.min_body_rate_bytes_per_s", a.code, a.body)
			}
		}
		return fmt.Sprintf("%d× %d naming min_body_rate_bytes_per_s, after %s (max)", len(answers), answers[0].code, ms(took.quantile(1)))
	})
}

// trickle sends a chunked POST on c whose body comes one byte a second,
// until the gateway answers, and returns the answer (code 0 if none came
// within rawTimeout).
func trickle(t *testing.T, c net.Conn) answer {
	start := time.Now()
	if _, err := io.WriteString(c, "POST /app/echo HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n"); err != nil {
		t.Errorf("writing the request head: %v", err)
		return answer{}
	}
	answered := make(chan struct{})
	var wg sync.WaitGroup
	defer wg.Wait()
	defer close(answered)
	wg.Go(func() {
		tick := time.NewTicker(time.Second) // the attack's rate, not a synchronization
		defer tick.Stop()
		for {
			select {
			case <-answered:
				return
			case <-tick.C:
				if _, err := io.WriteString(c, "1\r\nx\r\n"); err != nil {
					return // cut
				}
			}
		}
	})
	a, err := readAnswer(c, start)
	if err != nil {
		t.Errorf("no answer to a body at 1 byte/s within %v: %v", rawTimeout, err)
	}
	return a
}

// responseSize is the size of each response a non-reading client asks
// for: four times what the gateway's socket send buffer may grow to
// (tcp_wmem's maximum; 16 MiB at least), so its writes to the client block
// long before the response is sent.
func responseSize(t *testing.T) int {
	size := 16 << 20
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	if err != nil {
		t.Logf("tcp_wmem unknown (%v): asking for %d-byte responses", err, size)
		return size
	}
	if f := strings.Fields(string(b)); len(f) == 3 {
		if n, err := strconv.Atoi(f[2]); err == nil {
			size = max(size, 4*n)
		}
	}
	return size
}

// Finding 2, the response side: four clients that pipelined requests for
// large responses and never read held the slots for over 100 s (the
// request timeout stops once the response starts). Replayed on raw TCP
// with a 4 KiB receive buffer: each connection is cut (its request is
// logged with 499, the client's fault) long before its responses could have been
// delivered, and the normal client is served throughout.
func TestClientsThatDoNotReadAreCut(t *testing.T) {
	g := startGateway(t, twoReplicas(slowLimits, ""))
	g.waitRunning(t, "app", "d", 2, "/app/id")
	// The access log tells the attackers' requests from the normal
	// client's (which would be 499 too, were it made to give up).
	cut := func() int { return g.accessLogged("/app/big", statusClientClosed) }
	g.replay(t, "2: 4 pipelining clients that never read", "/app/id", func(t *testing.T) string {
		size := responseSize(t)
		req := fmt.Sprintf("GET /app/big?bytes=%d HTTP/1.1\r\nHost: app\r\n\r\n", size)
		conns := make([]net.Conn, 4)
		for i := range conns {
			conns[i] = dial(t, g.addr, 4096)
			if _, err := io.WriteString(conns[i], req+req); err != nil {
				t.Fatalf("pipelining two requests: %v", err)
			}
		}
		testenv.WaitFor(t, 30*time.Second, "the gateway to cut the 4 clients that do not read (499 in the access log)",
			func() bool { return cut() >= 4 })
		for _, c := range conns {
			c.SetReadDeadline(time.Now().Add(rawTimeout))
			n, err := io.Copy(io.Discard, c)
			if err != nil && !strings.Contains(err.Error(), "connection reset") {
				t.Errorf("reading what the gateway sent before cutting the connection: %v", err)
			}
			if n >= int64(size) {
				t.Errorf("a client that did not read got %d bytes, its first %d-byte response whole; want its connection cut before", n, size)
			}
		}
		return fmt.Sprintf("%d× cut (499), each before its first %d MiB response was whole", cut(), size>>20)
	})
}

// statusClientClosed is the status the gateway records for a request
// whose client left or was cut (nginx's 499).
const statusClientClosed = 499

package ingress_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/router"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/servetest"
)

// Slow clients, replayed against a real gateway and a real replica with
// raw sockets: they must not hold a replica's slots, nor count against it.

const slowConfig = `
http_options: {slow_client_grace_s: 1, min_body_rate_bytes_per_s: 100, min_response_rate_bytes_per_s: 1000}
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    max_ongoing_requests: %d
    replica: {command: [TESTREPLICA]}
`

func appDeployment(t *testing.T, srv *serve.Server) *router.Deployment {
	t.Helper()
	d, ok := srv.Router().Table().Application("app")
	if !ok {
		t.Fatal("no application app")
	}
	return d
}

// breakersClosed fails t unless every replica of d could take a request:
// no breaker open, none marked down.
func breakersClosed(t *testing.T, d *router.Deployment) {
	t.Helper()
	for _, r := range d.Replicas() {
		if !r.Available(1 << 30) {
			t.Errorf("replica %s is out of picking after client faults (its breaker opened?)", r.ID())
		}
	}
}

// slowUpload sends a chunked body one byte a second and returns the
// gateway's answer, and whether the gateway closed the connection after it.
func slowUpload(addr string) (resp string, closed bool) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "dial: " + err.Error(), false
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /echo HTTP/1.1\r\nHost: gateway\r\nTransfer-Encoding: chunked\r\n\r\n")
	stop := make(chan struct{})
	defer close(stop)
	go func() { // the attack: one byte a second, until answered
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			if _, err := io.WriteString(c, "1\r\nx\r\n"); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	c.SetReadDeadline(time.Now().Add(40 * time.Second))
	br := bufio.NewReader(c)
	r, err := http.ReadResponse(br, nil)
	if err != nil {
		return "no answer: " + err.Error(), false
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	// Closed: said so, then ended (or reset, as the attack goes on sending).
	_, err = br.ReadByte()
	ended := err == io.EOF || (err != nil && strings.Contains(err.Error(), "reset"))
	return fmt.Sprintf("%d %s", r.StatusCode, body), r.Close && ended
}

func TestSlowBodyIsCutWith408(t *testing.T) {
	srv, base := servetest.GatewayWith(t, fmt.Sprintf(slowConfig, 3))
	servetest.Running(t, srv, 1)
	d := appDeployment(t, srv)

	// Six slow uploads: more than the replica's slots, and more than the
	// five failures in a row that would open its breaker.
	const slow = 6
	answers := make(chan string, slow)
	for range slow {
		go func() {
			resp, closed := slowUpload(srv.HTTPAddr())
			answers <- fmt.Sprintf("%s (closed %v)", resp, closed)
		}()
	}
	testenv.WaitFor(t, 10*time.Second, "the slow uploads to hold every slot", func() bool { return d.Inflight() == 3 })

	// A normal client gets its answer: the slow ones lose their slots.
	if code, body := testenv.Get(t, base+"/id"); code != http.StatusOK {
		t.Errorf("normal client during the attack: %d %s", code, body)
	}
	for range slow {
		a := <-answers
		if !strings.HasPrefix(a, "408 ") || !strings.Contains(a, "http_options.min_body_rate_bytes_per_s") ||
			!strings.HasSuffix(a, "(closed true)") {
			t.Errorf("slow upload answered %q, want 408 naming http_options.min_body_rate_bytes_per_s, connection closed", a)
		}
	}
	testenv.WaitFor(t, 5*time.Second, "the slots to be free", func() bool { return d.Inflight() == 0 })
	breakersClosed(t, d)
	metrics := servetest.GetBody(t, "http://"+srv.DashboardAddr()+"/metrics")
	if !strings.Contains(metrics, `gantry_requests_total{application="app",code="408",deployment="d"} 6`) {
		t.Errorf("the cut uploads are not counted as 408:\n%s", grepLines(metrics, "gantry_requests_total"))
	}
	if code, body := testenv.Get(t, base+"/id"); code != http.StatusOK {
		t.Errorf("normal client after the attack: %d %s", code, body)
	}
}

// A client that pipelines requests for large responses and never reads
// them is cut: the replica's slot is freed for the others.
func TestNonReadingClientIsCut(t *testing.T) {
	srv, base := servetest.GatewayWith(t, fmt.Sprintf(slowConfig, 1))
	servetest.Running(t, srv, 1)
	d := appDeployment(t, srv)

	c, err := net.Dial("tcp", srv.HTTPAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.(*net.TCPConn).SetReadBuffer(4096) // fill up soon: the gateway's writes block
	for range 3 {
		fmt.Fprintf(c, "GET /big?bytes=%d HTTP/1.1\r\nHost: gateway\r\n\r\n", 64<<20)
	}
	testenv.WaitFor(t, 10*time.Second, "the non-reading client to hold the only slot", func() bool { return d.Inflight() == 1 })

	// The only slot is freed within the grace once the writes stall.
	if code, body := testenv.Get(t, base+"/id"); code != http.StatusOK {
		t.Errorf("normal client during the attack: %d %s", code, body)
	}
	testenv.WaitFor(t, 5*time.Second, "the slot to be free", func() bool { return d.Inflight() == 0 })
	breakersClosed(t, d)

	// Counted as the client's fault (499), not the replica's.
	metrics := servetest.GetBody(t, "http://"+srv.DashboardAddr()+"/metrics")
	if !strings.Contains(metrics, `gantry_requests_total{application="app",code="499",deployment="d"} 1`) {
		t.Errorf("the cut response is not counted as 499:\n%s", grepLines(metrics, "gantry_requests_total"))
	}
}

func grepLines(text, substr string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

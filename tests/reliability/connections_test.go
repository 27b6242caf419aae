package reliability

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// maxConnections is the flood test's http_options.max_connections.
const maxConnections = 32

// waitForAccept is how long a flood connection waits for an answer before
// it counts as not accepted (left in the listen backlog): a bound on the
// attack, not a synchronization.
const waitForAccept = 3 * time.Second

// Finding 3, connections: with no connection cap, a flood reached the fd
// limit (accept4: too many open files) and the admin port and /-/healthz
// stopped answering too. Replayed with http_options.max_connections 32:
// 64 connections each send a request and keep their connection; at most
// 32 connections (the normal client's two included) are served, the rest
// are refused or left waiting; the gateway's open files stay within the
// cap; /-/healthz on both ports and the admin API answer throughout; the
// normal client, whose connections were open before, is served; and once
// the flood ends, new connections are served again.
func TestConnectionFloodIsCappedAndTheAdminPortAnswers(t *testing.T) {
	g := startGateway(t, twoReplicas(fmt.Sprintf("  max_connections: %d\n", maxConnections), ""))
	g.waitRunning(t, "app", "d", 2, "/app/id")
	g.replay(t, "3: 64 connections past max_connections 32", "/app/id", func(t *testing.T) string {
		fdsBefore := g.openFDs(t)
		conns := make([]net.Conn, 2*maxConnections)
		outcomes := make([]string, len(conns))
		var wg sync.WaitGroup
		for i := range conns {
			conns[i] = dial(t, g.addr, 0)
			wg.Go(func() { outcomes[i] = floodOne(conns[i]) })
		}
		wg.Wait()
		tally := map[string]int{}
		for _, o := range outcomes {
			tally[o]++
		}
		if tally["200"] > maxConnections-2 {
			t.Errorf("%d flood connections were served besides the normal client's 2; want at most max_connections %d in all (%v)",
				tally["200"], maxConnections, tally)
		}
		for o, n := range tally {
			if o != "200" && o != "closed" && o != "not accepted" && !strings.Contains(o, "http_options.max_connections") {
				t.Errorf("%d flood connections got %q; want 200 within the cap, and past it a refusal naming http_options.max_connections, a closed connection or none accepted", n, o)
			}
		}
		if fds := g.openFDs(t); fds > fdsBefore+maxConnections+8 {
			t.Errorf("the gateway holds %d open files during the flood (%d before); want at most max_connections (%d) more",
				fds, fdsBefore, maxConnections)
		}
		for _, path := range []string{"/-/healthz", "/api/gantry/applications"} {
			if code, _, err := testenv.TryGet(g.dashboardURL + path); err != nil || code != 200 {
				t.Errorf("admin %s during the flood: %d %v; want 200", path, code, err)
			}
		}
		// The data port keeps a reserve of connections for the gateway's
		// own /-/ paths, so its health check answers during a flood too.
		health := "no answer"
		if code, body, err := tryGetWithin(g.url+"/-/healthz", waitForAccept); err == nil {
			health = fmt.Sprint(code)
			if code != 200 {
				t.Errorf("data-port /-/healthz during the flood: %d %q; want 200", code, body)
			}
		} else {
			t.Errorf("data-port /-/healthz during the flood: %v; want 200", err)
		}
		for _, c := range conns {
			c.Close()
		}
		g.until(t, 30*time.Second, "new connections to the data port to be served after the flood", func() bool {
			code, _, err := tryGetWithin(g.url+"/app/id", waitForAccept)
			return err == nil && code == 200
		})
		var parts []string
		for o, n := range tally {
			parts = append(parts, fmt.Sprintf("%d× %s", n, o))
		}
		sort.Strings(parts)
		return strings.Join(parts, ", ") + "; data-port /-/healthz on a new connection during the flood: " + health
	})
}

// floodOne sends a request on c and says what became of it: its status
// (with the body when it is not 200), "closed", or "not accepted".
func floodOne(c net.Conn) string {
	if _, err := io.WriteString(c, "GET /app/id HTTP/1.1\r\nHost: app\r\n\r\n"); err != nil {
		return "closed"
	}
	a, err := readAnswerWithin(c, time.Now(), waitForAccept)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return "not accepted"
	case err != nil:
		return "closed"
	case a.code == http.StatusOK:
		return "200"
	}
	return fmt.Sprintf("%d %s", a.code, strings.TrimSpace(a.body))
}

// tryGetWithin is GET url on a new connection, giving up after within.
func tryGetWithin(url string, within time.Duration) (int, string, error) {
	client := &http.Client{Timeout: within, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	return resp.StatusCode, readAll(resp), nil
}

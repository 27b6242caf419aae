package reliability

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// Finding 1: ten POSTs with a malformed chunked body (a chunk length
// "ZZZ") each got 502 "replica … failed", tripped the replicas' circuit
// breakers, and the next normal GET waited request_timeout_s. Replayed on
// raw TCP: each bad body is the client's fault (400 naming the chunk
// length), no breaker opens, and a normal GET right after them answers
// (with a client timeout of 2 s; the latency is recorded, not asserted).
func TestMalformedChunkedBodiesAreTheClientsFault(t *testing.T) {
	g := startGateway(t, twoReplicas("", ""))
	g.waitRunning(t, "app", "d", 2, "/app/id")
	g.replay(t, "1: 10 malformed chunked POSTs", "/app/id", func(t *testing.T) string {
		codes := map[int]int{}
		for range 10 {
			a := exchange(t, g.addr, "POST /app/echo HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n")
			codes[a.code]++
			if a.code != http.StatusBadRequest || !strings.Contains(a.body, "chunk length") {
				t.Errorf("malformed chunked POST: %d %q; want 400 naming the chunk length", a.code, a.body)
			}
		}
		client := &http.Client{Timeout: 2 * time.Second}
		start := time.Now()
		resp, err := client.Get(g.url + "/app/id")
		if err != nil {
			t.Fatalf("normal GET after the malformed POSTs: %v", err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("normal GET after the malformed POSTs: %s", resp.Status)
		}
		return fmt.Sprintf("%d× 400 naming the chunk length; next GET %s in %s", codes[400], resp.Status, ms(time.Since(start)))
	})
}

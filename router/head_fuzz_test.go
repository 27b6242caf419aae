package router

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// headPrefixes are route prefixes the fuzzer picks from (route_prefix is
// the operator's, validated by package deploy/config, not the client's).
var headPrefixes = []string{"/", "/app", "/a b", "/ü", "/v1/models"}

// FuzzWriteHead sends arbitrary request lines and headers to a real
// net/http server, as a client of the gateway would, and checks the head
// writeHead makes of every request the server accepts: one well-formed
// request line with the same method, only well-formed header lines, and no
// header the gateway did not mean to send (a CR or LF smuggled into a
// method, target, host or header value must not start a new line).
// Requests the server refuses never reach the router.
func FuzzWriteHead(f *testing.F) {
	f.Add("GET", "/app/x?y=1", "example.com", "Accept", "*/*", uint8(1))
	f.Add("POST", "/a%20b/c%2Fd", "h:8000", "Connection", "X-Drop, keep-alive", uint8(2))
	f.Add("PUT", "/", "h", "X-Forwarded-For", "10.0.0.1", uint8(0))
	f.Add("OPTIONS", "*", "h", "Te", "trailers, deflate", uint8(0))
	f.Add("GET", "/%C3%BC/x", "[::1]:80", "Traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", uint8(3))
	f.Add("GET", "http://other/app?", "h", "X-Request-Id", "abc", uint8(1))
	f.Add("GET", "/app\r\nX-Evil: 1", "h\r\nX-Evil: 2", "X-A", "b\r\nX-Evil: 3", uint8(1))

	heads := make(chan fuzzHead, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		prefix := headPrefixes[int(fuzzPrefixIndex(r))%len(headPrefixes)]
		if !strings.HasPrefix(r.URL.Path, prefix) {
			prefix = "/" // the route table would not have matched it
		}
		rid := r.Header.Get("X-Request-Id")
		if rid == "" {
			rid = "rid"
		}
		fw := &forwarding{prefix: prefix, requestID: rid, traceparent: r.Header.Get("Traceparent")}
		if fw.traceparent == "" {
			fw.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		}
		var buf bytes.Buffer
		bw := bufio.NewWriter(&buf)
		writeHead(bw, r, fw, 0)
		bw.Flush()
		emitted := 0
		outboundHeaders(r, fw, func(string, string) { emitted++ })
		heads <- fuzzHead{req: r, fw: fw, head: buf.Bytes(), emitted: emitted}
	}))
	f.Cleanup(srv.Close)
	addr := srv.Listener.Addr().String()

	f.Fuzz(func(t *testing.T, method, target, host, name, value string, prefix uint8) {
		var raw bytes.Buffer
		raw.WriteString(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n")
		raw.WriteString(name + ": " + value + "\r\n")
		raw.WriteString("X-Fuzz-Prefix: " + string(rune('0'+prefix%10)) + "\r\nConnection: close\r\n\r\n")
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := conn.Write(raw.Bytes()); err != nil {
			return // the server may close on a bad request before reading all of it
		}
		conn.(*net.TCPConn).CloseWrite()
		io.Copy(io.Discard, conn) // the answer; the handler has run (or not) when it ends
		select {
		case h := <-heads:
			checkHead(t, h)
		default: // refused by the server: nothing reached writeHead
		}
	})
}

// fuzzPrefixIndex is the X-Fuzz-Prefix digit the fuzz input chose.
func fuzzPrefixIndex(r *http.Request) byte {
	if v := r.Header.Get("X-Fuzz-Prefix"); len(v) == 1 {
		return v[0] - '0'
	}
	return 0
}

type fuzzHead struct {
	req     *http.Request
	fw      *forwarding
	head    []byte
	emitted int
}

// checkHead checks that h.head is one well-formed HTTP/1.1 request head for
// h.req: the request line, a Host line, the emitted headers, at most a
// Content-Length line, and nothing else.
func checkHead(t *testing.T, h fuzzHead) {
	t.Helper()
	head := string(h.head)
	end := strings.Index(head, "\r\n\r\n")
	if end < 0 || end+4 != len(head) {
		t.Fatalf("the head does not end with its only blank line:\n%q", head)
	}
	lines := strings.Split(head[:end], "\r\n")
	parts := strings.Split(lines[0], " ")
	if len(parts) != 3 || parts[0] != h.req.Method || !isToken(parts[0]) || parts[2] != "HTTP/1.1" || !validTarget(parts[1]) {
		t.Fatalf("bad request line %q for method %q", lines[0], h.req.Method)
	}
	for _, l := range lines[1:] {
		k, v, ok := strings.Cut(l, ": ")
		if !ok || !isToken(k) || !validFieldValue(v) {
			t.Fatalf("bad header line %q in:\n%q", l, head)
		}
	}
	want := 1 + h.emitted // Host
	if strings.Contains(head, "\r\nContent-Length: ") {
		want++
	}
	if len(lines)-1 != want {
		t.Fatalf("%d header lines, want %d (Host, %d emitted, Content-Length): a header was injected?\n%q",
			len(lines)-1, want, h.emitted, head)
	}
	back, err := http.ReadRequest(bufio.NewReader(strings.NewReader(head)))
	if err != nil {
		t.Fatalf("net/http cannot read the head: %v\n%q", err, head)
	}
	if back.Method != h.req.Method || back.RequestURI != parts[1] {
		t.Fatalf("read back as %s %s, want %s %s", back.Method, back.RequestURI, h.req.Method, parts[1])
	}
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func validTarget(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

func validFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < ' ' && c != '\t' || c == 0x7f {
			return false
		}
	}
	return true
}

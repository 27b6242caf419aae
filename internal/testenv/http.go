package testenv

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// RequestTimeout bounds every request the helpers below send, body
// included, so a hung server fails the test instead of hanging it.
const RequestTimeout = 30 * time.Second

// client keeps no idle connections: a test's servers can shut down without
// waiting for them, and no connection goroutine outlives the test (the
// goroutine-leak checks in TestMain would see it).
var client = &http.Client{
	Timeout:   RequestTimeout,
	Transport: &http.Transport{DisableKeepAlives: true},
}

// Response is an answer with its body read.
type Response struct {
	Code   int
	Header http.Header
	Body   string
}

// Do sends req and reads the whole answer; a transport error fails t.
func Do(t testing.TB, req *http.Request) Response {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL, err)
	}
	return Response{Code: resp.StatusCode, Header: resp.Header, Body: string(b)}
}

// Call sends a request with method, url and body (none if empty) and reads
// the whole answer; a transport error fails t.
func Call(t testing.TB, method, url, body string) Response {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return Do(t, req)
}

// Get fetches url and returns the status and body; a transport error fails t.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	r := Call(t, http.MethodGet, url, "")
	return r.Code, r.Body
}

// TryGet fetches url and returns the status and body; err is a transport
// error, which a test that polls a starting server expects.
func TryGet(url string) (int, []byte, error) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, body, err
}

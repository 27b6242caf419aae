package admin_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"testing"
)

// rawCall sends one request with an explicit Host and extra headers over a
// real socket to the gateway's admin listener.
func rawCall(t *testing.T, method, url, host string, header map[string]string, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func origin(o string) map[string]string { return map[string]string{"Origin": o} }

// Finding 7 of issue 14: a tokenless admin API answered any Host and any
// Origin, so a page whose name rebinds to 127.0.0.1 could PUT a config.
func TestTokenlessAdminRefusesForeignHostAndCrossOriginWrites(t *testing.T) {
	_, dash, _ := apiGateway(t, "")
	port := dash[strings.LastIndex(dash, ":")+1:]
	apps := dash + "/api/serve/applications/"

	for _, h := range []string{"", "localhost", "localhost:" + port, "LOCALHOST.:" + port, "dash.localhost:" + port,
		"127.0.0.1:" + port, "127.0.0.2", "[::1]:" + port, "[::1]"} {
		if code, body := rawCall(t, http.MethodGet, apps, h, nil, ""); code != http.StatusOK {
			t.Errorf("GET with Host %q: %d %s, want 200", h, code, body)
		}
	}
	// DNS rebinding: the browser asks evil.example, which now resolves to
	// 127.0.0.1, and says so in the Host header.
	for _, h := range []string{"evil.example:" + port, "evil.example", "localhost.evil.example:" + port, "10.1.2.3:" + port} {
		code, body := rawCall(t, http.MethodGet, apps, h, nil, "")
		if code != http.StatusForbidden || !strings.Contains(body, "Host header") || !strings.Contains(body, "--admin-token") {
			t.Errorf("GET with Host %q: %d %q, want 403 naming the Host header and --admin-token", h, code, body)
		}
	}
	code, body := rawCall(t, http.MethodPut, apps, "evil.example:"+port, origin("http://evil.example:"+port), `{"applications":[]}`)
	if code != http.StatusForbidden || !strings.Contains(body, "Host header") {
		t.Errorf("rebound PUT: %d %q, want 403 naming the Host header", code, body)
	}
	// A cross-site page posting to 127.0.0.1 directly.
	for _, h := range []map[string]string{
		origin("http://evil.example"), origin("null"), origin("http://127.0.0.1.evil.example:" + port),
		{"Sec-Fetch-Site": "cross-site"},
	} {
		code, body := rawCall(t, http.MethodPut, apps, "", h, `{"applications":[]}`)
		if code != http.StatusForbidden || !strings.Contains(body, "cross-origin") ||
			!(strings.Contains(body, "Origin header") || strings.Contains(body, "Sec-Fetch-Site header")) {
			t.Errorf("PUT with %v: %d %q, want 403 cross-origin naming the header", h, code, body)
		}
	}
	// What the dashboard sends: its own origin, or a loopback origin of
	// another port when a local reverse proxy rewrote the Host.
	for _, h := range []map[string]string{
		origin("http://127.0.0.1:" + port), origin("http://localhost:1"), origin("https://gantry.localhost"),
		{"Origin": "http://[::1]:8080", "Sec-Fetch-Site": "same-site"}, {"Sec-Fetch-Site": "same-origin"},
	} {
		if code, body := rawCall(t, http.MethodDelete, apps, "", h, ""); code != http.StatusOK {
			t.Errorf("DELETE with %v: %d %q, want 200", h, code, body)
		}
	}
	// Reads are not writes: a cross-site GET is answered (the browser keeps
	// its answer from the page without CORS headers).
	if code, body := rawCall(t, http.MethodGet, apps, "", origin("http://evil.example"), ""); code != http.StatusOK {
		t.Errorf("GET with a foreign Origin: %d %q, want 200", code, body)
	}
}

// A reverse proxy on this machine that rewrites the Host to its upstream's
// (nginx's default proxy_set_header Host $proxy_host; httputil's SetURL)
// passes the page's own origin, a loopback host on another port: the
// dashboard's writes through it must work.
func TestTokenlessAdminThroughRewritingProxy(t *testing.T) {
	_, dash, _ := apiGateway(t, "")
	target, _ := url.Parse(dash)
	proxy := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(r *httputil.ProxyRequest) {
		r.SetURL(target)
		r.Out.URL.Path = strings.TrimPrefix(r.Out.URL.Path, "/gantry")
	}})
	defer proxy.Close()
	code, body := rawCall(t, http.MethodPost, proxy.URL+"/gantry/api/gantry/validate", "", origin(proxy.URL), `{"applications":[]}`)
	if code != http.StatusOK || !strings.Contains(body, `"valid"`) {
		t.Errorf("POST through the proxy with its origin: %d %q, want 200", code, body)
	}
	code, body = rawCall(t, http.MethodPost, proxy.URL+"/gantry/api/gantry/validate", "", origin("http://evil.example"), `{}`)
	if code != http.StatusForbidden {
		t.Errorf("POST through the proxy from evil.example: %d %q, want 403", code, body)
	}
}

// With a token, any Host is allowed but a cross-origin write is still
// refused, even with the token.
func TestTokenAdminRefusesCrossOriginWrites(t *testing.T) {
	_, dash, _ := apiGateway(t, "s3cret")
	apps := dash + "/api/serve/applications/"
	if code, body := rawCall(t, http.MethodGet, apps, "gantry.internal", nil, ""); code != http.StatusOK {
		t.Errorf("GET with Host gantry.internal and a token: %d %s, want 200", code, body)
	}
	auth := map[string]string{"Authorization": "Bearer s3cret", "Origin": "http://evil.example"}
	if code, body := rawCall(t, http.MethodPut, apps, "gantry.internal", auth, `{"applications":[]}`); code != http.StatusForbidden ||
		!strings.Contains(body, "Origin header") {
		t.Errorf("cross-origin PUT with the token: %d %q, want 403 naming the Origin header", code, body)
	}
	auth["Origin"] = "https://gantry.internal"
	if code, body := rawCall(t, http.MethodDelete, apps, "gantry.internal", auth, ""); code != http.StatusOK {
		t.Errorf("same-origin DELETE with the token: %d %q, want 200", code, body)
	}
}

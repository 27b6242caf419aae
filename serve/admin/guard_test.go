package admin_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// rawCall sends one request with an explicit Host and Origin over a real
// socket to the gateway's admin listener.
func rawCall(t *testing.T, method, url, host, origin, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// Finding 7 of issue 14: a tokenless admin API answered any Host and any
// Origin, so a page whose name rebinds to 127.0.0.1 could PUT a config.
func TestTokenlessAdminRefusesForeignHostAndCrossOriginWrites(t *testing.T) {
	_, dash, _ := apiGateway(t, "")
	port := dash[strings.LastIndex(dash, ":")+1:]
	apps := dash + "/api/serve/applications/"

	for _, h := range []string{"", "localhost", "localhost:" + port, "127.0.0.1:" + port, "[::1]:" + port, "[::1]"} {
		if code, body := rawCall(t, http.MethodGet, apps, h, "", ""); code != http.StatusOK {
			t.Errorf("GET with Host %q: %d %s, want 200", h, code, body)
		}
	}
	code, body := rawCall(t, http.MethodGet, apps, "evil.example:"+port, "", "")
	if code != http.StatusForbidden || !strings.Contains(body, "--admin-token") {
		t.Errorf("GET with Host evil.example: %d %q, want 403 naming --admin-token", code, body)
	}
	code, body = rawCall(t, http.MethodPut, apps, "evil.example:"+port, "http://evil.example:"+port, `{"applications":[]}`)
	if code != http.StatusForbidden {
		t.Errorf("rebound PUT: %d %q, want 403", code, body)
	}
	code, body = rawCall(t, http.MethodPut, apps, "", "http://evil.example", `{"applications":[]}`)
	if code != http.StatusForbidden || !strings.Contains(body, "cross-origin") {
		t.Errorf("cross-origin PUT: %d %q, want 403 cross-origin", code, body)
	}
	// Same-origin write (what the dashboard sends) still works.
	code, body = rawCall(t, http.MethodDelete, apps, "", "http://127.0.0.1:"+port, "")
	if code != http.StatusOK {
		t.Errorf("same-origin DELETE: %d %q, want 200", code, body)
	}
}

// With a token, any Host is allowed but a cross-origin write is still
// refused, even with the token.
func TestTokenAdminRefusesCrossOriginWrites(t *testing.T) {
	_, dash, _ := apiGateway(t, "s3cret")
	apps := dash + "/api/serve/applications/"
	if code, body := rawCall(t, http.MethodGet, apps, "gantry.internal", "", ""); code != http.StatusOK {
		t.Errorf("GET with Host gantry.internal and a token: %d %s, want 200", code, body)
	}
	req, _ := http.NewRequest(http.MethodPut, apps, strings.NewReader(`{"applications":[]}`))
	req.Header.Set("Authorization", "Bearer s3cret")
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("cross-origin PUT with token: %d, want 403", resp.StatusCode)
	}
}

package admin

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// guardBrowser defends the admin listener against a browser on the same
// machine (DNS rebinding, cross-site forms and fetches):
//   - without a token, a request whose Host header is not a loopback name
//     or address (localhost, *.localhost, 127.0.0.0/8, [::1], with or
//     without a port) is refused with 403: a rebound name such as
//     evil.example resolving to 127.0.0.1 arrives with Host: evil.example.
//     With a token the Host is not checked: the token is the guard (and
//     New only binds beyond loopback with one). A request with no Host at
//     all (HTTP/1.0) is answered: no browser sends one.
//   - with or without a token, a write (any method but GET, HEAD and
//     OPTIONS) is refused with 403 when its Origin header names a host
//     that is neither the request's Host nor a loopback name or address,
//     or, without an Origin, when Sec-Fetch-Site says cross-site. CLIs send
//     neither header; the dashboard's own fetches carry its origin, which is
//     the Host, or, behind a reverse proxy on this machine that rewrites the
//     Host (nginx does by default), a loopback origin.
func guardBrowser(token string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if token == "" && r.Host != "" && !loopbackHostHeader(r.Host) {
				textError(w, http.StatusForbidden, "403 Forbidden: Host header "+quoteHost(r.Host)+" refused: "+
					"this gateway's admin API has no admin token, so it only answers requests whose Host header "+
					"is a loopback name or address (localhost, *.localhost, 127.0.0.1, [::1], with any port). "+
					"To reach it under another name, start gantry with --admin-token or "+AdminTokenEnv)
				return
			}
			if isWrite(r) {
				if msg := crossOrigin(r); msg != "" {
					textError(w, http.StatusForbidden, "403 Forbidden: cross-origin write refused: "+msg+
						"; a write is accepted from a page whose origin is the Host itself or a loopback name "+
						"or address, or from a client that sends no Origin (the gantry and Ray CLIs)")
					return
				}
			}
			next.ServeHTTP(w, r)
		})
	}
}

func quoteHost(s string) string {
	if len(s) > 200 {
		s = s[:200]
	}
	return `"` + strings.ToValidUTF8(s, "?") + `"`
}

// loopbackHostHeader reports whether a Host header (host, host:port,
// [v6]:port) names this machine only.
func loopbackHostHeader(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	return loopbackName(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"))
}

// loopbackName reports whether host (no port) only ever means this
// machine: a loopback IP, localhost, or a name under .localhost (RFC 6761
// reserves them for loopback, and browsers resolve them so), with or
// without the root's trailing dot.
func loopbackName(host string) bool {
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	return isLoopbackHost(host) || strings.HasSuffix(host, ".localhost")
}

func isWrite(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// crossOrigin says why a write comes from another site, or "" when it
// does not: its Origin header names the request's Host or a loopback
// host, or it has no Origin and Sec-Fetch-Site is not cross-site.
func crossOrigin(r *http.Request) string {
	origin := r.Header.Get("Origin")
	if origin == "" {
		if strings.EqualFold(r.Header.Get("Sec-Fetch-Site"), "cross-site") {
			return `Sec-Fetch-Site header is "cross-site" and there is no Origin header`
		}
		return ""
	}
	u, err := url.Parse(origin)
	if err == nil && u.Host != "" && (strings.EqualFold(u.Host, r.Host) || loopbackName(u.Hostname())) {
		return ""
	}
	return "Origin header " + quoteHost(origin) + " names neither the Host header " + quoteHost(r.Host) +
		" nor a loopback host"
}

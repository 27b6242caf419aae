package admin

import (
	"net"
	"net/http"
	"net/url"
	"strings"
)

// guardBrowser defends the admin listener against a browser on the same
// machine (DNS rebinding, cross-site forms):
//   - without a token, a request whose Host is not a loopback name or
//     address (localhost, 127.0.0.1, [::1], with or without a port) is
//     refused with 403: a rebound name such as evil.example resolving to
//     127.0.0.1 arrives with Host: evil.example;
//   - with or without a token, a write (any method but GET, HEAD and
//     OPTIONS) whose Origin header is present and names another host than
//     the request's Host is refused with 403. CLIs send no Origin; the
//     dashboard's fetches are same-origin.
func guardBrowser(token string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if token == "" && !loopbackHostHeader(r.Host) {
				textError(w, http.StatusForbidden, "403 Forbidden: this gateway's admin API has no admin token, "+
					"so it only answers requests addressed to localhost, 127.0.0.1 or [::1] (Host was "+
					quoteHost(r.Host)+"). To reach it under another name, start gantry with --admin-token or "+
					AdminTokenEnv)
				return
			}
			if needsSameOrigin(r) && !sameOrigin(r) {
				textError(w, http.StatusForbidden, "403 Forbidden: cross-origin write refused (Origin "+
					quoteHost(r.Header.Get("Origin"))+" does not match Host "+quoteHost(r.Host)+
					"); send writes from the gantry or Ray CLI, or from the dashboard itself")
				return
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

// loopbackHostHeader reports whether a Host header names this machine.
func loopbackHostHeader(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	return isLoopbackHost(host)
}

func needsSameOrigin(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return r.Header.Get("Origin") != ""
}

// sameOrigin reports whether the Origin header names the request's Host.
func sameOrigin(r *http.Request) bool {
	u, err := url.Parse(r.Header.Get("Origin"))
	if err != nil || u.Host == "" {
		return false
	}
	return strings.EqualFold(u.Host, r.Host)
}

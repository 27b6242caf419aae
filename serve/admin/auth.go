package admin

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"strings"
)

// The admin listener can start processes (PUT /api/serve/applications/
// runs any command a config names), so it is guarded twice:
//   - it binds 127.0.0.1 by default, and New refuses any other address
//     unless an admin token is set;
//   - with a token, every call that changes something (any method but GET,
//     HEAD and OPTIONS), everything under /debug/pprof/ (whose cmdline
//     would show an --admin-token flag) and /api/gantry/handle (the handle
//     endpoint's token) need "Authorization: Bearer TOKEN".
//
// Reads stay open, as on Ray's dashboard. Ray's CLI sends the same header
// when run with RAY_AUTH_MODE=token RAY_AUTH_TOKEN=TOKEN.

// AdminTokenEnv is the environment variable gantry reads the admin token
// from when --admin-token is not given (server and client alike).
const AdminTokenEnv = "GANTRY_ADMIN_TOKEN"

// CheckBind refuses to expose the admin listener beyond loopback
// without a token.
func CheckBind(addr, token string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("dashboard: bad address %q: %w", addr, err)
	}
	if token != "" || isLoopbackHost(host) {
		return nil
	}
	shown := host
	if shown == "" {
		shown = "every interface"
	}
	return fmt.Errorf("dashboard: refusing to serve the REST API on %s (%s) without an admin token: "+
		"anyone who can reach it could start processes on this machine. "+
		"Set a token with --admin-token or %s, or bind dashboard.host to 127.0.0.1", shown, addr, AdminTokenEnv)
}

// isLoopbackHost reports whether host (an IP or name, no port) only ever
// means this machine: a loopback IP or "localhost".
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// requireAdminToken guards mutating calls and pprof with the token; an
// empty token guards nothing.
func requireAdminToken(token string) func(http.Handler) http.Handler {
	if token == "" {
		return func(next http.Handler) http.Handler { return next }
	}
	want := sha256.Sum256([]byte(token))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !needsToken(r) || tokenMatches(r, want) {
				next.ServeHTTP(w, r)
				return
			}
			w.Header().Set("WWW-Authenticate", `Bearer realm="gantry"`)
			textError(w, http.StatusUnauthorized, "401 Unauthorized: this call needs the gateway's admin token "+
				`in an "Authorization: Bearer TOKEN" header (gantry CLI: --admin-token or `+AdminTokenEnv+
				"; Ray's CLI: RAY_AUTH_MODE=token RAY_AUTH_TOKEN=TOKEN)")
		})
	}
}

func needsToken(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		// The handle token lets its holder call every Python deployment.
		return strings.HasPrefix(r.URL.Path, "/debug/pprof") || r.URL.Path == "/api/gantry/handle"
	}
	return true
}

// tokenMatches compares the bearer token with want in constant time
// (hashes of equal length, so the token's length does not leak either).
func tokenMatches(r *http.Request, want [32]byte) bool {
	scheme, got, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
	return subtle.ConstantTimeCompare(sum[:], want[:]) == 1
}

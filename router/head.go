package router

import (
	"bufio"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// writeHead writes the request line and headers of r as the replica should
// see them (see outboundHeaders), straight from the client's request: no
// header map is copied.
func writeHead(bw *bufio.Writer, r *http.Request, fw *forwarding, bodyLen int) {
	bw.WriteString(r.Method)
	bw.WriteByte(' ')
	bw.WriteString(fw.target(r))
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(r.Host)
	bw.WriteString("\r\n")
	outboundHeaders(r, fw, func(k, v string) { header(bw, k, v) })
	if bodyLen > 0 || r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch {
		bw.WriteString("Content-Length: ")
		bw.WriteString(strconv.Itoa(bodyLen))
		bw.WriteString("\r\n")
	}
	bw.WriteString("\r\n")
}

// outboundHeaders calls emit for every header the replica should see: the
// client's, minus hop-by-hop ones (and those its Connection header names)
// and those the gateway sets itself, plus the forwarding headers, the
// request id and the trace context. Both ways of sending a request use it.
func outboundHeaders(r *http.Request, fw *forwarding, emit func(k, v string)) {
	listed := connectionListed(r)
	for k, vv := range r.Header {
		if skipOutbound[k] || hopByHop[k] || listed[k] || fw.call && k == "Authorization" {
			continue
		}
		for _, v := range vv {
			if !strings.ContainsAny(v, "\r\n") {
				emit(k, v)
			}
		}
	}
	if te := r.Header.Get("Te"); strings.Contains(te, "trailers") {
		emit("Te", "trailers")
	}
	if ip, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		if prior := r.Header["X-Forwarded-For"]; len(prior) > 0 {
			ip = strings.Join(prior, ", ") + ", " + ip
		}
		emit("X-Forwarded-For", ip)
	}
	emit("X-Forwarded-Host", r.Host)
	emit("X-Forwarded-Proto", "http")
	if fw.prefix != "/" && fw.prefix != "" {
		emit("X-Forwarded-Prefix", fw.prefix)
	}
	emit("X-Request-Id", fw.requestID)
	emit("Traceparent", fw.traceparent)
}

// skipOutbound are client headers the gateway replaces or drops: it sets
// its own forwarding headers, request id, trace context and body framing,
// and the body is read before the first attempt (so no Expect).
var skipOutbound = map[string]bool{
	"X-Forwarded-For": true, "X-Forwarded-Host": true, "X-Forwarded-Proto": true, "X-Forwarded-Prefix": true,
	"X-Request-Id": true, "Traceparent": true, "Content-Length": true, "Expect": true, "Host": true,
}

func header(bw *bufio.Writer, k, v string) {
	bw.WriteString(k)
	bw.WriteString(": ")
	bw.WriteString(v)
	bw.WriteString("\r\n")
}

// connectionListed returns the headers the client's Connection header
// names, which makes them hop-by-hop too; nil when there are none.
func connectionListed(r *http.Request) map[string]bool {
	var listed map[string]bool
	for _, c := range r.Header["Connection"] {
		for _, name := range strings.Split(c, ",") {
			if name = strings.TrimSpace(name); name != "" {
				if listed == nil {
					listed = map[string]bool{}
				}
				listed[http.CanonicalHeaderKey(name)] = true
			}
		}
	}
	return listed
}

// target is the request target for the replica: CallPath for a handle
// call, else the escaped path without the route prefix, and the query.
func (fw *forwarding) target(r *http.Request) string {
	if fw.call {
		return CallPath
	}
	return target(r, fw.prefix)
}

// target is the request target for the replica: the escaped path without
// the route prefix, and the query.
func target(r *http.Request, prefix string) string {
	p := r.URL.EscapedPath()
	if prefix != "/" && prefix != "" {
		if strings.HasPrefix(p, prefix) {
			p = stripPrefix(p, prefix)
		} else { // the prefix is escaped differently in the raw path
			p = (&url.URL{Path: stripPrefix(r.URL.Path, prefix)}).EscapedPath()
		}
	}
	if p == "" {
		p = "/"
	}
	if r.URL.RawQuery != "" || r.URL.ForceQuery {
		return p + "?" + r.URL.RawQuery
	}
	return p
}

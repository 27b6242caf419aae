package ingress

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/connlimit"
)

// BenchmarkPace measures what holding a client to the minimum rates costs
// a request on a real loopback connection: "bare" is the same handler
// without pacing.
func BenchmarkPace(b *testing.B) {
	lim := &limits{maxBody: 1 << 20, bodyRate: 1024, responseRate: 1024, grace: 10 * time.Second, now: time.Now}
	piece := []byte(strings.Repeat("x", 512))
	serve := func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		for range 4 {
			w.Write(piece)
		}
	}
	for _, paced := range []bool{false, true} {
		name := "bare"
		h := http.HandlerFunc(serve)
		if paced {
			name = "paced"
			h = func(rw http.ResponseWriter, r *http.Request) {
				w := lim.paceWriter(rw)
				defer w.deadline()
				w.paceBody(r, lim.maxBody, "http_options.max_request_body_bytes")
				serve(w, r)
			}
		}
		b.Run(name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &http.Server{Handler: h}
			go srv.Serve(connlimit.New(ln, 100, 0))
			defer srv.Close()
			url := "http://" + ln.Addr().String() + "/"
			body := strings.Repeat("y", 4096)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					resp, err := http.Post(url, "text/plain", strings.NewReader(body))
					if err != nil {
						b.Error(err)
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			})
		})
	}
}

// Command upstream is the benchmark's model server stand-in: the smallest
// useful HTTP replica. It listens on 127.0.0.1:$PORT and answers every path
// with the JSON body {"ok":true}; GET /-/healthz answers 200 "ok", so Gantry
// can run it as a replica (health_path /-/healthz). It does no logging and
// builds its response headers once, so that the benchmark measures the proxy
// in front of it rather than the upstream. SIGTERM or SIGINT finish the
// requests in flight and exit 0.
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

// Response bodies and header values, built once and shared by every request.
var (
	okBody     = []byte(`{"ok":true}`)
	okLen      = []string{strconv.Itoa(len(okBody))}
	healthBody = []byte("ok")
	healthLen  = []string{strconv.Itoa(len(healthBody))}
	ctJSON     = []string{"application/json"}
	ctText     = []string{"text/plain; charset=utf-8"}
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "upstream:", err)
		os.Exit(1)
	}
}

// run serves until SIGTERM or SIGINT, then shuts down gracefully.
func run() error {
	port := os.Getenv("PORT")
	if port == "" {
		return errors.New("PORT is not set")
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", port))
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(serve),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       5 * time.Minute,
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// serve answers every request. Headers are set by direct map assignment of
// shared slices (no canonicalisation, no allocation), and a nil Date entry
// keeps net/http from formatting a Date header per response.
func serve(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h["Date"] = nil
	if r.URL.Path == "/-/healthz" {
		h["Content-Type"] = ctText
		h["Content-Length"] = healthLen
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(healthBody)
		return
	}
	h["Content-Type"] = ctJSON
	h["Content-Length"] = okLen
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(okBody)
}

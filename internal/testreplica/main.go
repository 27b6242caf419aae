// Command testreplica is a replica for Gantry's end-to-end tests: a real
// process that speaks the replica protocol and can be slow, stream, reject,
// crash or misbehave on request. It is built by the tests, not shipped.
//
//	GET  /id                 replica id and pid as JSON
//	ANY  /slow?ms=N          answer after N ms (the id as body)
//	GET  /stream?n=5&ms=300  n chunks, ms apart, flushed one by one
//	ANY  /echo               the request: method, path, headers, body as JSON
//	GET  /big?bytes=N        N bytes of 'x' (with Content-Length)
//	ANY  /reject             503 with Gantry-Rejected: 1
//	POST /exit?code=N        exit at once with code N
//	GET  /config             the user_config it has (from start or /-/reconfigure)
//	GET  /env?name=X         the value of environment variable X
//
// TESTREPLICA_UNHEALTHY_FILE, when set, makes /-/healthz fail while that file
// exists. TESTREPLICA_PID_DIR, when set, gets an empty file named after the
// process id, so tests can check that no replica outlives the gateway.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"gantry.dev/gantry/replica"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	env := replica.FromEnv()
	if dir := os.Getenv("TESTREPLICA_PID_DIR"); dir != "" {
		os.WriteFile(filepath.Join(dir, strconv.Itoa(os.Getpid())), nil, 0o644)
	}
	unhealthy := os.Getenv("TESTREPLICA_UNHEALTHY_FILE")
	var userConfig atomic.Value
	userConfig.Store([]byte(env.UserConfig))
	opts := replica.ServeOptions{
		Reconfigure: func(raw json.RawMessage) error {
			userConfig.Store([]byte(raw))
			return nil
		},
		Healthy: func() bool {
			if unhealthy == "" {
				return true
			}
			_, err := os.Stat(unhealthy)
			return err != nil
		},
	}
	if err := replica.Serve(ctx, handler(env, &userConfig), opts); err != nil {
		fmt.Fprintln(os.Stderr, "testreplica:", err)
		os.Exit(1)
	}
	fmt.Println("testreplica: clean exit")
}

func handler(env replica.Env, userConfig *atomic.Value) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/config", func(w http.ResponseWriter, _ *http.Request) {
		w.Write(userConfig.Load().([]byte))
	})
	mux.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, os.Getenv(r.URL.Query().Get("name")))
	})
	mux.HandleFunc("/id", func(w http.ResponseWriter, _ *http.Request) {
		json.NewEncoder(w).Encode(map[string]any{"id": env.ReplicaID, "pid": os.Getpid()})
	})
	mux.HandleFunc("/slow", func(w http.ResponseWriter, r *http.Request) {
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		select {
		case <-time.After(time.Duration(ms) * time.Millisecond):
		case <-r.Context().Done():
			return
		}
		io.WriteString(w, env.ReplicaID)
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		ms, _ := strconv.Atoi(r.URL.Query().Get("ms"))
		w.Header().Set("Content-Type", "text/event-stream")
		f := w.(http.Flusher)
		for i := 0; i < n; i++ {
			if i > 0 {
				time.Sleep(time.Duration(ms) * time.Millisecond)
			}
			fmt.Fprintf(w, "data: chunk %d at %d\n\n", i, time.Now().UnixMilli())
			f.Flush()
		}
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("bytes"))
		w.Header().Set("Content-Length", strconv.Itoa(n))
		chunk := bytes.Repeat([]byte{'x'}, 32<<10)
		for n > 0 {
			k := min(n, len(chunk))
			if _, err := w.Write(chunk[:k]); err != nil {
				return
			}
			n -= k
		}
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"headers": r.Header, "body": string(body), "replica": env.ReplicaID,
		})
	})
	mux.HandleFunc("/reject", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Gantry-Rejected", "1")
		http.Error(w, "busy", http.StatusServiceUnavailable)
	})
	mux.HandleFunc("/exit", func(_ http.ResponseWriter, r *http.Request) {
		code, _ := strconv.Atoi(r.URL.Query().Get("code"))
		os.Exit(code)
	})
	return mux
}

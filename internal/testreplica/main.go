// Command testreplica is a replica for Gantry's end-to-end tests: a real
// process that speaks the replica protocol and can be slow, stream, reject,
// crash or misbehave on request. It is built by the tests, not shipped.
//
//	GET  /id                 replica id and pid as JSON
//	ANY  /slow?ms=N          answer after N ms (the id as body)
//	GET  /stream?n=5&ms=300  n chunks, ms apart, flushed one by one
//	ANY  /echo               the request: method, path, headers, body as JSON
//	ANY  /reject             503 with Gantry-Rejected: 1
//	POST /exit?code=N        exit at once with code N
//	GET  /config             the user_config it has (from start or /-/reconfigure)
//	GET  /env?name=X         the value of environment variable X
//	POST /-/gantry/call      a handle call, answered as /echo does
//	POST /call?app=A&dep=D   makes a handle call to A/D through the gateway's
//	                         handle endpoint (GANTRY_HANDLE_ADDRESS, _TOKEN)
//	                         with this request's body and Gantry-Method and
//	                         serve_multiplexed_model_id headers, and answers
//	                         with its status and body
//	GET  /models             {"loaded": [...], "loads": {id: n}} (multiplexing)
//
// TESTREPLICA_MAX_MODELS=N makes it multiplex models as @serve.multiplexed
// does: a request naming a model in serve_multiplexed_model_id loads it
// (counted) unless loaded, at most N stay loaded (least recently used
// goes), and every response lists them in Gantry-Multiplexed-Models.
//
// TESTREPLICA_UNHEALTHY_FILE, when set, makes /-/healthz fail while that file
// exists. TESTREPLICA_PID_DIR, when set, gets an empty file named after the
// process id, so tests can check that no replica outlives the gateway.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
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
	var h http.Handler = handler(env, &userConfig)
	if n, _ := strconv.Atoi(os.Getenv("TESTREPLICA_MAX_MODELS")); n > 0 {
		h = multiplexed(h, n)
	}
	if err := replica.Serve(ctx, h, opts); err != nil {
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
	mux.HandleFunc("/call", handleCall)
	mux.HandleFunc("/-/gantry/call", echo(env))
	mux.HandleFunc("/echo", echo(env))
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

func echo(env replica.Env) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"method": r.Method, "path": r.URL.Path, "query": r.URL.RawQuery,
			"headers": r.Header, "body": string(body), "replica": env.ReplicaID,
		})
	}
}

// handleCall makes the handle call /call describes and passes its answer on.
func handleCall(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	req, err := http.NewRequestWithContext(r.Context(), http.MethodPost,
		os.Getenv("GANTRY_HANDLE_ADDRESS")+"/"+q.Get("app")+"/"+q.Get("dep"), r.Body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	req.Header.Set("Authorization", "Bearer "+os.Getenv("GANTRY_HANDLE_TOKEN"))
	req.Header.Set("Content-Type", "application/x-gantry-pickle")
	for _, k := range []string{"Gantry-Method", "serve_multiplexed_model_id", "Traceparent"} {
		if v := r.Header.Get(k); v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		http.Error(w, "handle call: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

// multiplexed wraps h in @serve.multiplexed's model cache of at most max
// models (see the package comment).
func multiplexed(h http.Handler, max int) http.Handler {
	var mu sync.Mutex
	var loaded []string // least recently used first
	loads := map[string]int{}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if id := r.Header.Get("serve_multiplexed_model_id"); id != "" {
			if i := slices.Index(loaded, id); i >= 0 {
				loaded = slices.Delete(loaded, i, i+1)
			} else {
				loads[id]++
				if len(loaded) == max {
					loaded = loaded[1:]
				}
			}
			loaded = append(loaded, id)
		}
		w.Header().Set("Gantry-Multiplexed-Models", strings.Join(loaded, ","))
		if r.URL.Path == "/models" {
			json.NewEncoder(w).Encode(map[string]any{"loaded": slices.Clone(loaded), "loads": maps.Clone(loads)})
			mu.Unlock()
			return
		}
		mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

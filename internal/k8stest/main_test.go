package k8stest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/internal/k8stest"
)

var env *k8stest.Env

// helperEnv, when set in a pod's env, makes the test binary act as that pod's server
// instead of running tests: the tests run themselves as the "container".
const helperEnv = "K8STEST_POD_SERVER"

func TestMain(m *testing.M) {
	if os.Getenv(helperEnv) == "1" {
		os.Exit(podServer())
	}
	os.Exit(k8stest.Main(m, &env))
}

// podServer listens on the address in its first argument and answers GET /whoami with
// what the pod's environment says; it exits on SIGTERM.
func podServer() int {
	addr := os.Args[len(os.Args)-1]
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /whoami", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{
			"addr":      l.Addr().String(),
			"pod":       os.Getenv("POD_NAME"),
			"namespace": os.Getenv("POD_NAMESPACE"),
			"node":      os.Getenv("NODE_NAME"),
			"hostname":  os.Getenv("HOSTNAME"),
			"cpus":      os.Getenv("CPUS"),
		})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(l)
	<-ctx.Done()
	shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdown)
	return 0
}

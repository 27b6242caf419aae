package k8stest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"
)

// Enabled reports whether the Kubernetes tests should run: GANTRY_K8S_TESTS=1 or CI=true.
func Enabled() bool {
	return os.Getenv("GANTRY_K8S_TESTS") == "1" || os.Getenv("CI") == "true"
}

// startTimeout bounds building (cold: several minutes) and starting the control plane.
const startTimeout = 20 * time.Minute

// Main is the whole of a TestMain for a package whose tests need the control plane:
//
//	var env *k8stest.Env
//	func TestMain(m *testing.M) { os.Exit(k8stest.Main(m, &env)) }
//
// When Enabled, it starts the control plane into *env, runs the tests and stops it; if the
// control plane cannot start, it prints why and returns 1 (the tests fail, never skip).
// When not Enabled, it says so in one line that a plain `go test ./...` shows (see
// announceSkip) and runs the tests with *env nil; tests call Need to skip.
func Main(m *testing.M, env **Env) int {
	if !Enabled() {
		announceSkip()
		return m.Run()
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	e, err := Start(ctx, Options{Logf: func(format string, args ...any) {
		fmt.Fprintf(os.Stderr, "k8stest: "+format+"\n", args...)
	}})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "k8stest: starting the control plane: %v\n", err)
		return 1
	}
	*env = e
	code := m.Run()
	e.keep = code != 0
	e.Stop()
	return code
}

// Need returns env, or skips the test when the Kubernetes tests are not enabled (env nil).
// If they are enabled and env is still nil (TestMain did not start it), the test fails.
func Need(t testing.TB, env *Env) *Env {
	t.Helper()
	if env != nil {
		return env
	}
	if Enabled() {
		t.Fatal("k8stest: the Kubernetes tests are enabled but TestMain did not start the control plane (use k8stest.Main)")
	}
	t.Skip("Kubernetes tests not enabled: set GANTRY_K8S_TESTS=1 (make test-go does)")
	return nil
}

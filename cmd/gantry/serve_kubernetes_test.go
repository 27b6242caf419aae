package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestServeBackendUsageErrors(t *testing.T) {
	config := writeConfig(t, "applications: []\n")
	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"unknown backend":        {[]string{"serve", "--backend", "docker"}, "--backend must be local or kubernetes"},
		"kubernetes with config": {[]string{"serve", "--backend", "kubernetes", config}, "takes no config file"},
	} {
		t.Run(name, func(t *testing.T) {
			p := startGantry(t, tc.args...)
			if code := p.Wait(t, 10*time.Second); code != 2 {
				t.Fatalf("gantry %s: exit code %d, want 2", strings.Join(tc.args, " "), code)
			}
			if stderr := p.Stderr.String(); !strings.Contains(stderr, tc.want) {
				t.Errorf("stderr does not say %q:\n%s", tc.want, stderr)
			}
		})
	}
}

// Without a cluster to find, the gateway says so and exits; it does not
// start serving.
func TestServeKubernetesWithoutACluster(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-such-kubeconfig"))
	t.Setenv("HOME", t.TempDir())
	p := startGantry(t, "serve", "--backend", "kubernetes", "--http-port", "0", "--dashboard-port", "0")
	if code := p.Wait(t, 20*time.Second); code == 0 || code == -1 {
		t.Fatalf("exit code %d, want a non-zero exit", code)
	}
	if stderr := p.Stderr.String(); !strings.Contains(stderr, "finding the Kubernetes cluster") || strings.Contains(stderr, "gateway serving") {
		t.Errorf("stderr does not say the cluster was not found:\n%s", stderr)
	}
}

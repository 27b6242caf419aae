package k8stest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// binaries are the files Start needs in the binary directory.
var binaries = []string{"etcd", "kube-apiserver", "kube-scheduler", "kwok", "kwok-stages.yaml"}

// binDir returns the directory holding the control-plane binaries: $GANTRY_K8S_BIN when set
// (it must hold them all), else the output of hack/k8s-testenv/build.sh, which builds them
// on the first run and only checks a stamp afterwards.
func binDir(ctx context.Context, logf func(string, ...any)) (string, error) {
	if dir := os.Getenv("GANTRY_K8S_BIN"); dir != "" {
		return dir, checkBinaries(dir, "GANTRY_K8S_BIN")
	}
	script, err := findBuildScript()
	if err != nil {
		return "", err
	}
	logf("building the control plane with %s (cold: several minutes; then cached)", script)
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, script)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s: %w\n%s", script, err, tail(stderr.String(), 4000))
	}
	dir := strings.TrimSpace(stdout.String())
	if i := strings.LastIndexByte(dir, '\n'); i >= 0 {
		dir = dir[i+1:]
	}
	return dir, checkBinaries(dir, script)
}

func checkBinaries(dir, from string) error {
	for _, b := range binaries {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			return fmt.Errorf("%s: %s has no %s (want %s)", from, dir, b, strings.Join(binaries, ", "))
		}
	}
	return nil
}

// findBuildScript walks up from the working directory (a package directory under go test)
// to the checkout's hack/k8s-testenv/build.sh.
func findBuildScript() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		p := filepath.Join(dir, "hack", "k8s-testenv", "build.sh")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("hack/k8s-testenv/build.sh not found above the working directory; set GANTRY_K8S_BIN to a directory with " + strings.Join(binaries, ", "))
		}
		dir = parent
	}
}

// tail returns the last n bytes of s.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

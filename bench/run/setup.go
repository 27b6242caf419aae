package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
)

// moduleRoot is the directory of the go.mod that `go` sees from here.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the gantry module: run from the repository")
	}
	return filepath.Dir(gomod), nil
}

// build compiles pkg (relative to the module root) into the work directory.
func (b *bench) build(ctx context.Context, pkg, name string) (string, error) {
	bin := b.path(name)
	logf("go build -o %s %s", bin, pkg)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = b.root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("%w\n%s", err, trimOutput(out))
	}
	return bin, nil
}

// ensureTools installs wrk, and nginx-light when nginx is measured, with
// apt-get if they are missing.
func ensureTools(ctx context.Context, needNginx bool) error {
	var missing []string
	if _, err := exec.LookPath("wrk"); err != nil {
		missing = append(missing, "wrk")
	}
	if _, err := os.Stat(nginxBin); needNginx && err != nil {
		missing = append(missing, "nginx-light")
	}
	if len(missing) == 0 {
		return nil
	}
	logf("installing %s with apt-get", strings.Join(missing, " "))
	if err := apt(ctx, "update"); err != nil {
		return err
	}
	return apt(ctx, append([]string{"install", "-y", "--no-install-recommends"}, missing...)...)
}

// apt runs apt-get, through sudo when not root, with its output on stderr.
func apt(ctx context.Context, args ...string) error {
	argv := append([]string{"apt-get"}, args...)
	if os.Geteuid() != 0 {
		argv = append([]string{"sudo", "-n"}, argv...)
	}
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("%s: %w", strings.Join(argv, " "), err)
	}
	return nil
}

// printMachine prints what the numbers were measured on.
func printMachine(w io.Writer) {
	fmt.Fprintf(w, "machine: %d CPUs (%s), Linux %s, %s\n",
		runtime.NumCPU(), cpuModel(), readTrim("/proc/sys/kernel/osrelease"), runtime.Version())
	fmt.Fprintf(w, "tools:   %s; %s\n\n", firstLine("wrk", "-v"), firstLine(nginxBin, "-v"))
}

// cpuModel is the first "model name" in /proc/cpuinfo.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// readTrim is a small file's content without surrounding space.
func readTrim(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "?"
	}
	return strings.TrimSpace(string(data))
}

// firstLine is the first line a command prints (either stream, any exit
// status: `wrk -v` exits 1), or a note that it is missing.
func firstLine(argv ...string) string {
	out, _ := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	line, _, _ := strings.Cut(strings.TrimSpace(string(out)), "\n")
	if line == "" {
		return argv[0] + ": not found"
	}
	return strings.TrimSpace(line)
}

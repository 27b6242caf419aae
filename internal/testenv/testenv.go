package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// Build compiles the main packages pkgs (import paths) into a new temporary
// directory and returns it; binaries are named after the last path element.
func Build(pkgs ...string) (string, error) {
	dir, err := os.MkdirTemp("", "gantry-test-bin-")
	if err != nil {
		return "", err
	}
	for _, p := range pkgs {
		out := filepath.Join(dir, p[strings.LastIndex(p, "/")+1:])
		cmd := exec.Command("go", "build", "-o", out, p)
		if b, err := cmd.CombinedOutput(); err != nil {
			os.RemoveAll(dir)
			return "", fmt.Errorf("go build %s: %v\n%s", p, err, b)
		}
	}
	return dir, nil
}

// Alive reports whether a process with pid exists and is not a zombie.
func Alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// RunWithBinaries builds the main packages pkgs (as Build does), sets *dir
// to where they are, runs the tests and removes the binaries. It is the
// whole of a TestMain: os.Exit(testenv.RunWithBinaries(m, &binDir, pkgs...)).
func RunWithBinaries(m interface{ Run() int }, dir *string, pkgs ...string) int {
	d, err := Build(pkgs...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(d)
	*dir = d
	return m.Run()
}

package k8stest

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// announceSkip says, where a plain `go test ./...` shows it, that the calling package's
// Kubernetes tests are about to skip and how to run them.
//
// `go test` with several packages shows a passing package's own output only with -v, so a
// line on the test binary's stderr alone would be as silent as the skip. The line goes to
// the test binary's stderr (seen with -v, -json and on failure) and, without -v, also to the
// stderr of the go command that runs the binary, when that is a terminal, a pipe or a file
// opened for appending (a file written at an offset is left alone: the go command's next
// write would overwrite the line).
// A result replayed from the test cache prints nothing; go test -count=1 runs it again.
func announceSkip() {
	line := fmt.Sprintf("NOTE %s: Kubernetes tests SKIPPED: they need GANTRY_K8S_TESTS=1 and a control plane; `make test-go` sets both up\n",
		callerPackage())
	io.WriteString(os.Stderr, line)
	if !flag.Parsed() {
		flag.Parse() // testing.M.Run parses only if nobody has
	}
	if testing.Verbose() {
		return // the go command streams the binary's stderr already
	}
	if f := goCommandStderr(); f != nil {
		io.WriteString(f, line)
		f.Close()
	}
}

// callerPackage returns the import path of the package whose TestMain is on the stack, or
// the test binary's name.
func callerPackage() string {
	pcs := make([]uintptr, 16)
	frames := runtime.CallersFrames(pcs[:runtime.Callers(2, pcs)])
	for {
		f, more := frames.Next()
		if pkg, ok := strings.CutSuffix(f.Function, ".TestMain"); ok {
			return strings.TrimSuffix(pkg, "_test")
		}
		if !more {
			return strings.TrimSuffix(filepath.Base(os.Args[0]), ".test")
		}
	}
}

// goCommandStderr opens the stderr of this process's parent if the parent is the go
// command and its stderr is not a regular file; otherwise it returns nil.
func goCommandStderr() *os.File {
	ppid := os.Getppid()
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", ppid))
	if err != nil || filepath.Base(exe) != "go" {
		return nil
	}
	path := fmt.Sprintf("/proc/%d/fd/2", ppid)
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().IsRegular() && !appending(ppid, 2) {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return nil
	}
	return f
}

// appending reports whether process pid's file descriptor fd was opened with O_APPEND (as
// by a shell's >>): then every write goes to the end and a line of ours cannot be
// overwritten.
func appending(pid, fd int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%d", pid, fd))
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "flags:"); ok {
			flags, err := strconv.ParseUint(strings.TrimSpace(v), 8, 64)
			return err == nil && flags&syscall.O_APPEND != 0
		}
	}
	return false
}

package local_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"gantry.dev/gantry/internal/testenv"
)

// Helper programs built by TestMain.
var (
	envServer   string // testdata/envserver
	orphanCheck string // testdata/orphancheck
)

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	dir, err := os.MkdirTemp("", "gantry-local-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	build := exec.Command("go", "build", "-o", dir+string(filepath.Separator), "./testdata/envserver", "./testdata/orphancheck")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "build test helpers: %v\n%s", err, out)
		return 1
	}
	envServer = filepath.Join(dir, "envserver")
	orphanCheck = filepath.Join(dir, "orphancheck")

	code := m.Run()
	if code == 0 {
		// Every process watcher and log copier must end with its instance.
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutine leak:", err)
			return 1
		}
	}
	return code
}

// processGone reports whether pid has exited (a zombie counts: nobody may
// reap orphans in a container).
func processGone(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state == 'Z' || state == 'X'
}

// processesWithEnv lists the processes whose environment contains kv.
func processesWithEnv(t *testing.T, kv string) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || processGone(pid) {
			continue
		}
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		for _, v := range bytes.Split(env, []byte{0}) {
			if string(v) == kv {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

// readPID polls path until it holds a PID.
func readPID(t *testing.T, path string) int {
	t.Helper()
	var pid int
	testenv.WaitFor(t, 10*time.Second, "a pid in "+path, func() bool {
		b, err := os.ReadFile(path)
		if err != nil || !bytes.HasSuffix(b, []byte("\n")) {
			return false
		}
		pid, err = strconv.Atoi(strings.TrimSpace(string(b)))
		return err == nil
	})
	return pid
}

// commandsWithEnv lists the command lines, arguments joined by spaces, of
// the processes whose environment contains kv.
func commandsWithEnv(t *testing.T, kv string) []string {
	t.Helper()
	var cmds []string
	for _, pid := range processesWithEnv(t, kv) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil || len(b) == 0 {
			continue // gone meanwhile
		}
		cmds = append(cmds, strings.ReplaceAll(strings.TrimSuffix(string(b), "\x00"), "\x00", " "))
	}
	return cmds
}

// killMarked kills the processes whose environment contains kv, so that a
// failed test leaves nothing behind.
func killMarked(kv string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		env, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if slices.ContainsFunc(bytes.Split(env, []byte{0}), func(v []byte) bool { return string(v) == kv }) {
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

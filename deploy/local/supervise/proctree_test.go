//go:build linux

package supervise

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// descendants finds a child and its own child through real processes, even
// when a command name holds the ") " that ends the name in /proc/PID/stat.
func TestDescendantsOfRealProcesses(t *testing.T) {
	sleep, err := exec.LookPath("sleep")
	if err != nil {
		t.Skip("no sleep command:", err)
	}
	odd := filepath.Join(t.TempDir(), "a) S 1 1 (b")
	data, err := os.ReadFile(sleep)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(odd, data, 0o755); err != nil {
		t.Fatal(err)
	}
	// sh forks the odd sleep, then becomes sleep 301 itself.
	cmd := exec.Command("/bin/sh", "-c", `"$ODD" 300 & exec sleep 301`)
	cmd.Env = append(os.Environ(), "ODD="+odd)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var grandchild int
	t.Cleanup(func() {
		if grandchild > 0 {
			syscall.Kill(grandchild, syscall.SIGKILL)
		}
		cmd.Process.Kill()
		cmd.Wait()
	})

	var found []process
	testenv.WaitFor(t, 10*time.Second, "the child and the grandchild among the descendants", func() bool {
		found = descendants(os.Getpid())
		var child bool
		for _, p := range found {
			cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(p.pid) + "/cmdline")
			args := strings.Split(strings.TrimSuffix(string(cmdline), "\x00"), "\x00")
			switch {
			case p.pid == cmd.Process.Pid && slices.Equal(args, []string{"sleep", "301"}):
				child = p.ppid == os.Getpid() && p.pgid == syscall.Getpgrp()
			case p.ppid == cmd.Process.Pid && slices.Equal(args, []string{odd, "300"}):
				grandchild = p.pid
			}
		}
		return child && grandchild > 0
	})
	for _, p := range found {
		if p.zombie {
			t.Errorf("descendants returned a zombie: %+v", p)
		}
	}
}

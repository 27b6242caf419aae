//go:build linux

package supervise

import (
	"bufio"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// startSupervisor runs this test binary as a supervisor of argv (init
// recognizes Arg) and returns it with the command's PID, from the handshake.
func startSupervisor(t *testing.T, argv ...string) (*exec.Cmd, int, *os.File) {
	t.Helper()
	path, err := exec.LookPath(argv[0])
	if err != nil {
		t.Skip(err)
	}
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "control"), os.NewFile(uintptr(fds[1]), "control")
	cmd := exec.Command("/proc/self/exe", append([]string{Arg, path, "--"}, argv...)...)
	cmd.ExtraFiles = []*os.File{theirs}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	t.Cleanup(func() {
		ours.Close() // kills whatever is left
		cmd.Wait()
	})
	line, err := bufio.NewReader(ours).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid ")))
	if err != nil || perr != nil {
		t.Fatalf("handshake: %q, %v", line, err)
	}
	return cmd, pid, ours
}

func gone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	i := strings.LastIndexByte(string(b), ')')
	return i > 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}

// A hangup does not stop a supervisor; a SIGKILL, which it cannot handle,
// still takes its command with it (parent-death signal).
func TestSupervisorHangupAndDeath(t *testing.T) {
	sup, pid, _ := startSupervisor(t, "sleep", "300")
	if err := sup.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	// Give a hangup the time to do harm, then check nothing died of it.
	exited := make(chan struct{})
	go func() { sup.Process.Wait(); close(exited) }() // reaps; Cleanup's Wait then fails harmlessly
	select {
	case <-exited:
		t.Fatal("the supervisor exited on SIGHUP")
	case <-time.After(200 * time.Millisecond):
	}
	if gone(pid) {
		t.Fatal("the command exited on the supervisor's SIGHUP")
	}

	if err := sup.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-exited
	testenv.WaitFor(t, 10*time.Second, "the command to die with its supervisor", func() bool { return gone(pid) })
}

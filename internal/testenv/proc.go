package testenv

import (
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proc is a child process a test started with StartProc: a real program (a
// gateway, a replica) run as it runs in production.
type Proc struct {
	Cmd            *exec.Cmd
	Stdout, Stderr *SyncBuffer
	done           chan struct{} // closed once Wait has returned
}

// StartProc starts cmd with its output collected in Stdout and Stderr. The
// process is killed (if still running) when the test ends, and its command
// line and output are logged if the test failed; describe, when not empty,
// is logged with them (a config, say).
func StartProc(t testing.TB, cmd *exec.Cmd, describe string) *Proc {
	t.Helper()
	p := &Proc{Cmd: cmd, Stdout: &SyncBuffer{}, Stderr: &SyncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.Stdout, p.Stderr
	// A grandchild that inherited the output pipes must not hang Wait forever.
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", cmd.Path, err)
	}
	go func() {
		cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.Exited() {
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			if describe != "" {
				describe = "\n--- " + describe
			}
			t.Logf("%s%s\n--- stdout:\n%s\n--- stderr:\n%s", strings.Join(cmd.Args, " "), describe, p.Stdout, p.Stderr)
		}
	})
	return p
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Wait waits up to within for the process to end and returns its exit code
// (-1 when a signal ended it); it fails the test if the process is still
// running then.
func (p *Proc) Wait(t testing.TB, within time.Duration) int {
	t.Helper()
	select {
	case <-p.done:
		return p.Cmd.ProcessState.ExitCode()
	case <-time.After(within):
		t.Fatalf("%s still running %v later", p.Cmd.Path, within)
		return 0
	}
}

// Signal sends sig to the process.
func (p *Proc) Signal(t testing.TB, sig syscall.Signal) {
	t.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		t.Fatalf("sending %v to %s: %v", sig, p.Cmd.Path, err)
	}
}

// Until polls cond as Eventually does, giving up early if the process exits
// meanwhile (cond would never hold then). It reports whether cond held
// while the process ran; Exited tells the two failures apart.
func (p *Proc) Until(within time.Duration, cond func() bool) bool {
	died := false
	ok := Eventually(within, func() bool {
		if p.Exited() {
			died = true
			return true
		}
		return cond()
	})
	return ok && !died
}

package testenv

import (
	"os/exec"
	"testing"
	"time"
)

func TestProcUntilStopsWhenTheProcessExits(t *testing.T) {
	p := StartProc(t, exec.Command("sh", "-c", "echo out; echo err >&2; exit 3"), "")
	// Were Until to wait out its deadline, the test would hang until go test's timeout.
	if p.Until(time.Hour, func() bool { return false }) {
		t.Fatal("Until reported a condition that never holds as held")
	}
	if !p.Exited() {
		t.Fatal("Until returned while the process still runs")
	}
	if code := p.Wait(t, 10*time.Second); code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	if p.Stdout.String() != "out\n" || p.Stderr.String() != "err\n" {
		t.Errorf("stdout %q, stderr %q; want \"out\\n\" and \"err\\n\"", p.Stdout, p.Stderr)
	}
}

func TestProcIsKilledWhenTheTestEnds(t *testing.T) {
	var p *Proc
	t.Run("inner", func(t *testing.T) {
		p = StartProc(t, exec.Command("sleep", "600"), "")
		if !p.Until(10*time.Second, func() bool { return Alive(p.Cmd.Process.Pid) }) {
			t.Fatal("sleep is not running")
		}
	})
	if !p.Exited() {
		t.Fatal("the process outlived the test that started it")
	}
}

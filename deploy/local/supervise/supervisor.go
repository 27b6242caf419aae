//go:build linux

package supervise

import (
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

// Arg, as the first argument, turns the executable into a supervisor:
// `EXE __supervise PATH -- ARGV...` runs PATH with ARGV.
const Arg = "__supervise"

// ControlFD is where the supervisor finds its end of the control socket
// (see the package documentation).
const ControlFD = 3

// descendantPoll is how often a supervisor whose command has exited during a
// graceful stop looks for the processes the command left behind.
const descendantPoll = 25 * time.Millisecond

// From <linux/prctl.h>, <asm-generic/resource.h> and <asm-generic/signal.h>:
// golang.org/x/sys/unix has them, but the supervisor keeps its imports to
// the few standard packages that initialize before anything heavy.
const (
	prSetChildSubreaper = 36
	rlimitCore          = 4
	sigUnblock          = 1
)

func init() {
	if len(os.Args) > 1 && os.Args[1] == Arg {
		os.Exit(superviseMain(os.Args[2:]))
	}
}

// superviseMain runs a supervisor and returns its exit code, unless the
// command was ended by a signal: then the supervisor ends by the same
// signal and never returns.
func superviseMain(args []string) int {
	if len(args) < 3 || args[1] != "--" {
		fmt.Fprintf(os.Stderr, "gantry: usage: %s PATH -- ARGV...\n", Arg)
		return 2
	}
	syscall.CloseOnExec(ControlFD) // the command must not hold it
	ctl := os.NewFile(ControlFD, "control")
	s := &supervisor{self: os.Getpid()}
	status, err := s.run(args[0], args[2:], ctl)
	if err != nil {
		fmt.Fprintf(ctl, "error %s\n", err)
		return 127
	}
	return exitLike(status)
}

// supervisor runs one member's command and outlives every process the
// command starts. It is the command's parent and the subreaper of the
// command's descendants, so an orphaned descendant becomes its child rather
// than init's, and every descendant can be found by walking /proc from it.
type supervisor struct {
	self     int
	main     int                // the command's PID, also its process group
	mainDone bool               // main has been reaped
	status   syscall.WaitStatus // main's, once mainDone
	stopping bool               // a stop signal was forwarded
}

// run starts the command and supervises it until the command and every
// descendant are gone. It returns the command's wait status, or an error if
// the command could not be started.
func (s *supervisor) run(path string, argv []string, ctl *os.File) (syscall.WaitStatus, error) {
	// The command's parent-death signal belongs to the thread that forks
	// it; this one is never released, so the signal fires only when the
	// supervisor itself dies (by SIGKILL, say) and cannot clean up.
	runtime.LockOSThread()
	if _, _, errno := syscall.RawSyscall(syscall.SYS_PRCTL, prSetChildSubreaper, 1, 0); errno != 0 {
		return 0, fmt.Errorf("become a subreaper: %w", errno)
	}
	// Separate channels, as signal.Notify drops what does not fit: a burst
	// of SIGCHLD must not crowd out a stop (one wakeup reaps them all).
	stops := make(chan os.Signal, 4)
	signal.Notify(stops, syscall.SIGTERM, syscall.SIGINT)
	chld := make(chan os.Signal, 1)
	signal.Notify(chld, syscall.SIGCHLD)
	// A hangup is not a reason to stop; the gateway decides. Not
	// signal.Ignore: the command would inherit SIG_IGN, whereas a caught
	// signal is reset to its default by exec. The channel is never read.
	signal.Notify(make(chan os.Signal, 1), syscall.SIGHUP)

	proc, err := os.StartProcess(path, argv, &os.ProcAttr{
		Files: []*os.File{os.Stdin, os.Stdout, os.Stderr},
		Sys:   &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL},
	})
	if err != nil {
		return 0, err
	}
	s.main = proc.Pid
	proc.Release() // reaped below with wait4, like every other child
	fmt.Fprintf(ctl, "pid %d\n", s.main)

	killc := make(chan struct{})
	go func() {
		io.Copy(io.Discard, ctl)
		close(killc)
	}()
	poll := time.NewTicker(descendantPoll)
	defer poll.Stop()
	for {
		var tick <-chan time.Time
		if s.mainDone {
			tick = poll.C
		}
		select {
		case <-killc: // first if both are ready: a kill overrides a stop
			s.killAll()
			return s.status, nil
		default:
		}
		select {
		case sig := <-stops:
			s.stopping = true
			s.forward(sig.(syscall.Signal))
		case <-chld:
		case <-killc:
			s.killAll()
			return s.status, nil
		case <-tick:
		}
		s.reap()
		if !s.mainDone {
			continue
		}
		if !s.stopping {
			// The command ended by itself: the replica is over, and
			// nothing would ever stop what it left behind.
			s.killAll()
			return s.status, nil
		}
		if len(descendants(s.self)) == 0 {
			return s.status, nil
		}
	}
}

// reap collects every exited child without blocking, noting main's status.
func (s *supervisor) reap() {
	for {
		var ws syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &ws, syscall.WNOHANG, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		if pid == s.main {
			s.mainDone, s.status = true, ws
		}
	}
}

// forward sends sig once to every process of the member: to main's process
// group while main lives (it cannot be reused before), and to each
// descendant outside that group one by one. A process that gets a stop
// signal twice may take the second as "quit now", so none gets it twice.
func (s *supervisor) forward(sig syscall.Signal) {
	if !s.mainDone {
		syscall.Kill(-s.main, sig)
	}
	for _, p := range descendants(s.self) {
		if s.mainDone || p.pgid != s.main {
			syscall.Kill(p.pid, sig)
		}
	}
}

// killAll sends SIGKILL to every descendant until none is left, and reaps
// them. A process forked meanwhile is found on the next pass: its parent is
// a descendant, or, once that parent is dead, the supervisor itself.
func (s *supervisor) killAll() {
	if !s.mainDone {
		syscall.Kill(-s.main, syscall.SIGKILL)
	}
	for {
		s.reap()
		ds := descendants(s.self)
		if len(ds) == 0 {
			break
		}
		for _, p := range ds {
			syscall.Kill(p.pid, syscall.SIGKILL)
		}
		// SIGKILL takes effect asynchronously; let the kernel catch up.
		time.Sleep(time.Millisecond)
	}
	if !s.mainDone {
		// main was a zombie when /proc was last read, so it is reapable.
		for {
			pid, err := syscall.Wait4(s.main, &s.status, 0, nil)
			if err != syscall.EINTR {
				s.mainDone = pid == s.main
				break
			}
		}
	}
}

// exitLike returns status's exit code, or ends the process by the signal
// that ended the command, so that whoever waits for the supervisor sees what
// the command did.
func exitLike(status syscall.WaitStatus) int {
	switch {
	case status.Exited():
		return status.ExitStatus()
	case status.Signaled():
		dieBy(status.Signal())
		return 128 + int(status.Signal()) // as a shell would, if dieBy failed
	default:
		return 1
	}
}

// dieBy ends the process by sig. The Go runtime handles most signals
// itself (a SIGABRT or a SIGSEGV sent by kill makes it print a trace and
// exit 2), so the kernel's default action is restored first. The command
// dumped core already if it was going to; the supervisor does not.
func dieBy(sig syscall.Signal) {
	syscall.Setrlimit(rlimitCore, &syscall.Rlimit{})
	var dfl [4]uint64 // struct sigaction all zero: SIG_DFL, no flags, empty mask
	syscall.RawSyscall6(syscall.SYS_RT_SIGACTION, uintptr(sig), uintptr(unsafe.Pointer(&dfl)), 0, 8, 0, 0)
	set := uint64(1) << (uint(sig) - 1)
	syscall.RawSyscall6(syscall.SYS_RT_SIGPROCMASK, sigUnblock, uintptr(unsafe.Pointer(&set)), 0, 8, 0, 0)
	syscall.Tgkill(os.Getpid(), syscall.Gettid(), sig)
	// Not reached unless the signal was ignored after all.
	time.Sleep(100 * time.Millisecond)
}

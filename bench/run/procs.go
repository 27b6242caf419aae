package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a child process started in its own process group, so that stopping
// it also stops whatever it started (nginx workers, gantry's replicas) and a
// Ctrl-C in the terminal reaches only this runner, which then cleans up.
type proc struct {
	name  string
	cmd   *exec.Cmd
	log   string        // file holding its stdout and stderr
	grace time.Duration // how long SIGTERM may take before SIGKILL
	done  chan struct{} // closed when the process has exited
	err   error         // Wait's result, valid after done
}

// procSet is every process the benchmark started.
type procSet struct {
	mu    sync.Mutex
	procs []*proc
	bins  []string // binaries whose strays are killed after stopAll
}

// start runs argv with env added to the environment, output to logPath.
func (s *procSet) start(name, logPath string, grace time.Duration, env []string, argv ...string) (*proc, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	defer logFile.Close() // the child holds its own descriptor
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, grace: grace, done: make(chan struct{})}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p, nil
}

// reapStrays asks stopAll to kill, after stopping the process groups, any
// process still running binary bin: a replica that its gateway moved into a
// process group of its own and left behind. bin lives in the work directory,
// so nothing this benchmark did not start can match.
func (s *procSet) reapStrays(bin string) {
	s.mu.Lock()
	s.bins = append(s.bins, bin)
	s.mu.Unlock()
}

// stopAll stops every process, the last started first (gantry before the
// upstream it may still be talking to), then kills strays.
func (s *procSet) stopAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.procs) - 1; i >= 0; i-- {
		s.procs[i].stop()
	}
	for _, bin := range s.bins {
		killStrays(bin)
	}
}

// stop sends SIGTERM to the process group, then SIGKILL after the grace time.
func (p *proc) stop() {
	pgid := -p.cmd.Process.Pid
	if p.exited() {
		// Kill leftovers in its group, unless the pid now belongs to a
		// new process (then the group id may not be ours any more).
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", p.cmd.Process.Pid)); err != nil {
			_ = syscall.Kill(pgid, syscall.SIGKILL)
		}
		return
	}
	_ = syscall.Kill(pgid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(p.grace):
		logf("%s did not stop within %s; killing it", p.name, p.grace)
	}
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	<-p.done
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// exitError describes how the process ended, with the tail of its log.
func (p *proc) exitError() error {
	return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", p.name, p.err, p.log, p.logTail(20))
}

// logTail returns the last n lines of the process's log.
func (p *proc) logTail(n int) string {
	data, err := os.ReadFile(p.log)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "  " + strings.Join(lines, "\n  ")
}

// killStrays SIGKILLs every process whose executable is bin.
func killStrays(bin string) {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		exe, err := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if err == nil && exe == bin {
			logf("killing stray %s (pid %d)", filepath.Base(bin), pid)
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// errNotReady is returned by waitOK while a URL does not answer 200 yet.
var errNotReady = errors.New("not ready")

// waitOK polls url until it answers 200, the deadline passes, ctx ends, or
// p exits. The error names the last answer or failure seen.
func waitOK(ctx context.Context, url string, deadline time.Time, p *proc) error {
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	for {
		last := getOK(ctx, client, url)
		if last == nil {
			return nil
		}
		if p.exited() {
			return p.exitError()
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("GET %s: %w", url, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// getOK does one GET and returns nil if it answered 200.
func getOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: %s", errNotReady, resp.Status)
	}
	return nil
}

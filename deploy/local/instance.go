package local

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"gantry.dev/gantry/deploy"
)

// instance is one started replica. Its members are fixed once Start returns.
type instance struct {
	id      string
	hosts   int
	log     *slog.Logger
	release func(*instance) // tells the Backend the instance is stopped
	members []*member

	firstExit sync.Once
	done      chan struct{}
	err       error // written before done is closed

	stopOnce sync.Once
	stopErr  error
}

var _ deploy.Instance = (*instance)(nil)

func newInstance(id string, hosts int, log *slog.Logger, release func(*instance)) *instance {
	return &instance{
		id:      id,
		hosts:   hosts,
		log:     log,
		release: release,
		members: make([]*member, 0, hosts),
		done:    make(chan struct{}),
	}
}

// add adopts a started member and starts its reaper.
func (in *instance) add(m *member) {
	in.members = append(in.members, m)
	go in.reap(m)
}

// exitDrain bounds how long an exit is reported late so the member's last
// output can reach its log first (a grandchild may hold the pipe open).
const exitDrain = 500 * time.Millisecond

// reap waits for m to exit; the first member to exit ends the instance.
// The exit is reported once m's output is drained, so that LogTail called
// on Done shows the member's last words (why it crashed).
func (in *instance) reap(m *member) {
	err := m.cmd.Wait() // the supervisor exits as the command did
	m.ctl.Close()
	if err == nil {
		err = errors.New(m.cmd.ProcessState.String()) // "exit status 0"
	}
	drained := time.NewTimer(exitDrain)
	select {
	case <-m.logs.done:
	case <-drained.C:
	}
	drained.Stop()
	in.firstExit.Do(func() {
		if in.hosts > 1 {
			err = fmt.Errorf("member %d: %w", m.host, err)
		}
		in.err = err
		close(in.done)
	})
	close(m.exited) // after done, so Done is closed once Stop returns
}

func (in *instance) Address() string { return in.members[0].addr }

func (in *instance) Members() []deploy.Member {
	ms := make([]deploy.Member, len(in.members))
	for i, m := range in.members {
		ms[i] = deploy.Member{Host: m.host, Address: m.addr, PID: m.pid, LogPath: m.logPath}
	}
	return ms
}

func (in *instance) Done() <-chan struct{} { return in.done }

func (in *instance) Err() error {
	select {
	case <-in.done:
		return in.err
	default:
		return nil
	}
}

func (in *instance) LogPath() string { return in.members[0].logPath }

func (in *instance) LogTail(n int) []string { return in.members[0].logs.tail.Last(n) }

// LogSince implements deploy.LogFollower.
func (in *instance) LogSince(after uint64) ([]string, uint64) {
	return in.members[0].logs.tail.Since(after)
}

// Stop sends SIGTERM to every process of every member, waits up to grace
// for them to exit, then kills them all. Concurrent calls wait for the first.
func (in *instance) Stop(grace time.Duration) error {
	in.stopOnce.Do(func() { in.stopErr = in.stop(grace) })
	return in.stopErr
}

func (in *instance) stop(grace time.Duration) error {
	start := time.Now()
	err := in.signal(syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	killed := !in.waitGone(timer.C)
	if killed {
		in.kill()
	}
	for _, m := range in.members {
		<-m.exited
	}
	for _, m := range in.members {
		m.logs.finish(drainTimeout)
	}
	in.release(in)
	in.log.Info("replica stopped", "replica", in.id, "killed", killed, "took", time.Since(start).Round(time.Millisecond))
	if err != nil {
		return fmt.Errorf("stop replica %s: %w", in.id, err)
	}
	return nil
}

// abort kills every member at once and waits for them, even while a graceful
// Stop is under way.
func (in *instance) abort() {
	in.kill()
	in.Stop(0)
}

// waitGone waits until every member is gone or deadline fires, and reports
// whether they all went.
func (in *instance) waitGone(deadline <-chan time.Time) bool {
	for _, m := range in.members {
		select {
		case <-m.exited:
		case <-deadline:
			return false
		}
		select {
		case <-m.logs.done:
		case <-deadline:
			return false
		}
	}
	return true
}

// signal sends sig to the supervisor of every member that is not gone,
// which passes it on to every process of the member.
func (in *instance) signal(sig syscall.Signal) error {
	var errs []error
	for _, m := range in.members {
		// A killed member's supervisor is on its way out: a SIGTERM
		// could reach the command before SIGKILL does and decide how it
		// ends.
		if m.gone() || m.killed.Load() {
			continue
		}
		// Process.Signal, unlike kill(2) on a PID, cannot reach another
		// process that reused the PID once the supervisor was reaped.
		if err := m.cmd.Process.Signal(sig); err != nil && !errors.Is(err, os.ErrProcessDone) {
			errs = append(errs, fmt.Errorf("send %v to member %d (supervisor %d): %w", sig, m.host, m.cmd.Process.Pid, err))
		}
	}
	return errors.Join(errs...)
}

// kill makes the supervisor of every member SIGKILL every process of the
// member, the command's descendants included, then exit.
func (in *instance) kill() {
	for _, m := range in.members {
		m.killed.Store(true)
		m.ctl.Close() // a second Close is harmless
	}
}

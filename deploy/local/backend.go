package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"gantry.dev/gantry/deploy"
)

// ErrClosed is returned by Start after Close.
var ErrClosed = errors.New("local backend is closed")

// Options configure a Backend.
type Options struct {
	// StateDir holds the members' logs, in
	// logs/<application>/<replica-id>-<host>.log. Default: $TMPDIR/gantry.
	StateDir string
	// Logger receives start and stop events. Default: slog.Default().
	Logger *slog.Logger
	// BindHost is the host replicas serve on and traffic is sent to.
	// Default: 127.0.0.1.
	BindHost string
}

// Backend starts replicas as child processes. It is safe for concurrent use.
//
// The owner must call Close once the controller has stopped its replicas:
// Close kills whatever is still running.
type Backend struct {
	stateDir string
	bindHost string
	log      *slog.Logger

	mu     sync.Mutex
	closed bool
	live   map[*instance]struct{}
}

var _ deploy.Backend = (*Backend)(nil)

// New returns a Backend. It starts no goroutine until the first Start.
func New(opts Options) *Backend {
	b := &Backend{
		stateDir: opts.StateDir,
		bindHost: opts.BindHost,
		log:      opts.Logger,
		live:     make(map[*instance]struct{}),
	}
	if b.stateDir == "" {
		b.stateDir = filepath.Join(os.TempDir(), "gantry")
	}
	if b.bindHost == "" {
		b.bindHost = "127.0.0.1"
	}
	if b.log == nil {
		b.log = slog.Default()
	}
	return b
}

// Start launches every member of the replica described by spec and returns
// once they are started (each member's supervisor has reported its
// command's PID), without waiting for them to become healthy. ctx bounds
// the start only: the members outlive it. If any member fails to start, the
// others are killed.
func (b *Backend) Start(ctx context.Context, spec deploy.ReplicaSpec) (deploy.Instance, error) {
	in, err := b.start(ctx, spec)
	if err != nil {
		return nil, fmt.Errorf("start replica %s: %w", spec.ID, err)
	}
	b.log.Info("replica started", "replica", spec.ID, "members", len(in.members), "address", in.Address(), "pid", in.members[0].pid)
	return in, nil
}

func (b *Backend) start(ctx context.Context, spec deploy.ReplicaSpec) (*instance, error) {
	hosts := max(spec.Hosts, 1)
	if len(spec.Command) == 0 {
		return nil, errors.New("command is empty")
	}
	if spec.MemberEnv != nil && len(spec.MemberEnv) != hosts {
		return nil, fmt.Errorf("%d member environments for %d hosts", len(spec.MemberEnv), hosts)
	}
	if b.isClosed() {
		return nil, ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	ports, err := freePorts(b.bindHost, hosts)
	if err != nil {
		return nil, err
	}
	addrs := make([]string, hosts)
	for i, p := range ports {
		addrs[i] = net.JoinHostPort(b.bindHost, strconv.Itoa(p))
	}

	in := newInstance(spec.ID, hosts, b.log, b.release)
	for i := range hosts {
		m, err := b.startMember(ctx, spec, i, addrs)
		if err != nil {
			in.abort()
			if hosts > 1 {
				err = fmt.Errorf("member %d: %w", i, err)
			}
			return nil, err
		}
		in.add(m)
	}
	if err := ctx.Err(); err != nil {
		in.abort()
		return nil, err
	}

	b.mu.Lock()
	closed := b.closed
	if !closed {
		b.live[in] = struct{}{}
	}
	b.mu.Unlock()
	if closed {
		in.abort()
		return nil, ErrClosed
	}
	return in, nil
}

// startMember starts member i under its supervisor, and its log copier (add
// starts its reaper).
func (b *Backend) startMember(ctx context.Context, spec deploy.ReplicaSpec, i int, addrs []string) (*member, error) {
	logPath := filepath.Join(b.stateDir, "logs", safeName(spec.Application), fmt.Sprintf("%s-%d.log", safeName(spec.ID), i))
	out, err := openLog(logPath)
	if err != nil {
		return nil, err
	}
	cmd, err := newCommand(spec, memberEnv(spec, i, addrs))
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("command %q: %w", spec.Command, err)
	}
	m, err := startProcess(ctx, cmd, out)
	if err != nil {
		return nil, fmt.Errorf("command %q: %w", spec.Command, err)
	}
	m.host, m.addr, m.logPath = i, addrs[i], logPath
	return m, nil
}

// Close kills every member still running and waits for them to exit. Start fails with ErrClosed afterwards. Close is a last resort:
// the controller should Stop replicas gracefully before it is called.
func (b *Backend) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	live := slices.Collect(maps.Keys(b.live))
	b.mu.Unlock()

	if len(live) > 0 {
		b.log.Warn("killing replicas left running", "count", len(live))
	}
	var wg sync.WaitGroup
	for _, in := range live {
		wg.Go(in.abort)
	}
	wg.Wait()
	return nil
}

func (b *Backend) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

// release forgets a stopped instance.
func (b *Backend) release(in *instance) {
	b.mu.Lock()
	delete(b.live, in)
	b.mu.Unlock()
}

// freePorts finds n distinct free TCP ports on host. Each is free when
// returned but not reserved: the member must bind it soon.
func freePorts(host string, n int) ([]int, error) {
	ports := make([]int, 0, n)
	for range n {
		l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
		if err != nil {
			return nil, fmt.Errorf("find a free port: %w", err)
		}
		// Keep it open until all are chosen, so no port is handed out twice.
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// safeName makes s usable as one path element.
func safeName(s string) string {
	if s == "" || s == "." || s == ".." {
		return "_"
	}
	return strings.NewReplacer("/", "_", "\x00", "_").Replace(s)
}

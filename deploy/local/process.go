package local

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/local/supervise"
)

// member is one running process of an instance, and the supervisor that
// runs it (see package supervise).
type member struct {
	host    int
	addr    string
	logPath string
	cmd     *exec.Cmd     // the supervisor
	pid     int           // the replica's process, the supervisor's child
	ctl     *os.File      // closing it makes the supervisor kill every process of the member
	killed  atomic.Bool   // ctl was closed to kill: no signal may overtake that
	exited  chan struct{} // closed once cmd.Wait has returned
	logs    *logCopier
}

// gone reports whether the member has exited and every process that shared
// its output (its children, normally) has closed it too.
func (m *member) gone() bool {
	select {
	case <-m.exited:
	default:
		return false
	}
	select {
	case <-m.logs.done:
		return true
	default:
		return false
	}
}

// handshakeTimeout bounds how long a supervisor may take to start the
// command and say so, when ctx sets no earlier deadline.
const handshakeTimeout = time.Minute

// startProcess starts the supervisor cmd with its output going to out,
// which it takes ownership of, and waits for it to report the command's PID.
func startProcess(ctx context.Context, cmd *exec.Cmd, out *os.File) (*member, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("create output pipe: %w", err)
	}
	ctl, theirs, err := controlSocket()
	if err != nil {
		pr.Close()
		pw.Close()
		out.Close()
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.ExtraFiles = []*os.File{theirs} // fd 3: supervise.ControlFD
	err = cmd.Start()
	pw.Close() // the supervisor has its own copies
	theirs.Close()
	if err != nil {
		ctl.Close()
		pr.Close()
		out.Close()
		return nil, err
	}
	logs := startCopier(pr, out)
	pid, err := handshake(ctx, ctl)
	if err != nil {
		ctl.Close() // kills the command, if it started
		cmd.Wait()
		logs.finish(drainTimeout)
		return nil, err
	}
	return &member{
		cmd:    cmd,
		pid:    pid,
		ctl:    ctl,
		exited: make(chan struct{}),
		logs:   logs,
	}, nil
}

// controlSocket returns both ends of a member's control socket: the
// gateway's, which only the gateway holds, and the supervisor's. When the
// gateway dies, by SIGKILL even, the kernel closes its end, and the
// supervisor reads end of file.
func controlSocket() (ours, theirs *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("create control socket: %w", err)
	}
	// Non-blocking, so that reads honour deadlines.
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		syscall.Close(fds[0])
		syscall.Close(fds[1])
		return nil, nil, fmt.Errorf("create control socket: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "control"), os.NewFile(uintptr(fds[1]), "control"), nil
}

// handshake reads the supervisor's first line: the command's PID, or why it
// could not be started.
func handshake(ctx context.Context, ctl *os.File) (int, error) {
	deadline := time.Now().Add(handshakeTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	ctl.SetReadDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { ctl.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	var line []byte
	b := make([]byte, 1)
	for len(line) < 4<<10 {
		n, err := ctl.Read(b)
		if n == 1 && b[0] == '\n' {
			break
		}
		line = append(line, b[:n]...)
		if err != nil {
			if ctx.Err() != nil {
				return 0, ctx.Err()
			}
			if errors.Is(err, io.EOF) {
				return 0, errors.New("supervisor exited before starting the command")
			}
			return 0, fmt.Errorf("read from supervisor: %w", err)
		}
	}
	ctl.SetReadDeadline(time.Time{})
	word, rest, _ := strings.Cut(string(line), " ")
	switch word {
	case "pid":
		pid, err := strconv.Atoi(rest)
		if err == nil && pid > 0 {
			return pid, nil
		}
	case "error":
		return 0, errors.New(rest)
	}
	return 0, fmt.Errorf("supervisor said %q", line)
}

// selfExe is the running executable; exec'ing it works even if the file
// was replaced or removed since the gateway started.
const selfExe = "/proc/self/exe"

// newCommand returns the supervisor command for one member: the running
// executable, which starts the replica's command in a process group of its
// own and outlives every process it starts. The command is resolved here,
// on the gateway's PATH, as it always was.
func newCommand(spec deploy.ReplicaSpec, env []string) (*exec.Cmd, error) {
	target := exec.Command(spec.Command[0], spec.Command[1:]...)
	if target.Err != nil {
		return nil, target.Err
	}
	args := append([]string{os.Args[0], supervise.Arg, target.Path, "--"}, spec.Command...)
	// Not CommandContext: the member outlives the context of Start.
	cmd := &exec.Cmd{Path: selfExe, Args: args, Env: env, Dir: spec.WorkingDir}
	// Its own group keeps a terminal's Ctrl-C away from it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd, nil
}

// Environment of the replica protocol, set last so neither spec.Env nor the
// gateway's own environment can override it.
const (
	envPort        = "PORT"
	envReplicaID   = "GANTRY_REPLICA_ID"
	envDeployment  = "GANTRY_DEPLOYMENT"
	envApplication = "GANTRY_APPLICATION"
	envUserConfig  = "GANTRY_USER_CONFIG"
	envHostIndex   = "GANTRY_HOST_INDEX"
	envHosts       = "GANTRY_HOSTS"
	// envWorkerHostnames, from placement's MemberEnv, names the hosts in
	// GANTRY_HOSTS.
	envWorkerHostnames = "TPU_WORKER_HOSTNAMES"
)

// memberEnv is the environment of member i: the gateway's, then spec.Env,
// then the member's own, then the replica protocol's.
func memberEnv(spec deploy.ReplicaSpec, i int, addrs []string) []string {
	env := appendVars(os.Environ(), spec.Env)
	if i < len(spec.MemberEnv) {
		env = appendVars(env, spec.MemberEnv[i])
	}
	_, port, _ := net.SplitHostPort(addrs[i])
	userConfig := "null"
	if len(spec.UserConfig) > 0 {
		userConfig = string(spec.UserConfig)
	}
	env = append(env,
		envPort+"="+port,
		envReplicaID+"="+spec.ID,
		envDeployment+"="+spec.Deployment,
		envApplication+"="+spec.Application,
		envUserConfig+"="+userConfig,
		envHostIndex+"="+strconv.Itoa(i),
	)
	if len(addrs) > 1 {
		env = append(env, envHosts+"="+hostsVar(spec, addrs))
	}
	return env // exec.Cmd keeps the last value of a repeated name
}

// appendVars appends vars to env in name order.
func appendVars(env []string, vars map[string]string) []string {
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, k+"="+vars[k])
	}
	return env
}

// hostsVar is GANTRY_HOSTS: name=host:port of every member, comma-separated.
// Names come from TPU_WORKER_HOSTNAMES when placement set it, else host-<i>.
func hostsVar(spec deploy.ReplicaSpec, addrs []string) string {
	var names []string
	for _, e := range spec.MemberEnv {
		if v := e[envWorkerHostnames]; v != "" {
			names = strings.Split(v, ",")
			break
		}
	}
	parts := make([]string, len(addrs))
	for i, addr := range addrs {
		name := "host-" + strconv.Itoa(i)
		if i < len(names) && strings.TrimSpace(names[i]) != "" {
			name = strings.TrimSpace(names[i])
		}
		parts[i] = name + "=" + addr
	}
	return strings.Join(parts, ",")
}

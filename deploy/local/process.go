package local

import (
	"context"
	"fmt"
	"maps"
	"net"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"

	"gantry.dev/gantry/deploy"
)

// spawner forks every member from one goroutine locked to its OS thread.
//
// A member asks for SIGKILL when its parent dies (Pdeathsig), and to Linux
// the parent is the thread that forked it, not the process. The Go runtime
// ends a thread when a goroutine exits while locked to it, so a member forked
// from an arbitrary goroutine could be killed at any moment. The spawner's
// thread lives until stop, and dies with the gateway.
type spawner struct {
	reqs chan spawnRequest
	quit chan struct{}
	done chan struct{}
}

type spawnRequest struct {
	cmd  *exec.Cmd
	errc chan error // buffered: the spawner never blocks on a reply
}

func startSpawner() *spawner {
	s := &spawner{
		reqs: make(chan spawnRequest),
		quit: make(chan struct{}),
		done: make(chan struct{}),
	}
	go s.run()
	return s
}

func (s *spawner) run() {
	// Never unlocked: when run returns, the runtime ends this thread and the
	// kernel kills every member it forked that is still alive.
	runtime.LockOSThread()
	defer close(s.done)
	for {
		select {
		case r := <-s.reqs:
			// Start forks on the calling thread and, as every stdio
			// stream is an *os.File, starts no goroutine.
			r.errc <- r.cmd.Start()
		case <-s.quit:
			return
		}
	}
}

// start starts cmd on the spawner's thread. ctx bounds the wait for the
// spawner, not the process.
func (s *spawner) start(ctx context.Context, cmd *exec.Cmd) error {
	r := spawnRequest{cmd: cmd, errc: make(chan error, 1)}
	select {
	case s.reqs <- r:
		return <-r.errc
	case <-s.quit:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
}

// stop ends the spawner's goroutine, and with it its thread.
func (s *spawner) stop() {
	close(s.quit)
	<-s.done
}

// member is one running process of an instance.
type member struct {
	host    int
	addr    string
	logPath string
	cmd     *exec.Cmd
	pid     int
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

// startProcess starts cmd through sp with its output going to out, which it
// takes ownership of.
func startProcess(ctx context.Context, sp *spawner, cmd *exec.Cmd, out *os.File) (*member, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		out.Close()
		return nil, fmt.Errorf("create output pipe: %w", err)
	}
	cmd.Stdout, cmd.Stderr = pw, pw
	err = sp.start(ctx, cmd)
	pw.Close() // the child has its own copy
	if err != nil {
		pr.Close()
		out.Close()
		return nil, err
	}
	return &member{
		cmd:    cmd,
		pid:    cmd.Process.Pid,
		exited: make(chan struct{}),
		logs:   startCopier(pr, out),
	}, nil
}

// newCommand returns the command for one member, in a process group of its
// own and killed when the thread that forks it ends.
func newCommand(spec deploy.ReplicaSpec, env []string) *exec.Cmd {
	// Not CommandContext: the member outlives the context of Start.
	cmd := exec.Command(spec.Command[0], spec.Command[1:]...)
	cmd.Env = env
	cmd.Dir = spec.WorkingDir
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	return cmd
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

package local_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/local"
	"gantry.dev/gantry/internal/testenv"
)

func newBackend(t *testing.T) (*local.Backend, string) {
	t.Helper()
	dir := t.TempDir()
	b := local.New(local.Options{StateDir: dir, Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return b, dir
}

// start starts spec and stops it when the test ends.
func start(t *testing.T, b *local.Backend, spec deploy.ReplicaSpec) deploy.Instance {
	t.Helper()
	if spec.Application == "" {
		spec.Application = "app"
	}
	if spec.Deployment == "" {
		spec.Deployment = "dep"
	}
	if spec.ID == "" {
		spec.ID = "app#dep#" + strings.ReplaceAll(t.Name(), "/", "_")
	}
	inst, err := b.Start(context.Background(), spec)
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		if err := inst.Stop(5 * time.Second); err != nil {
			t.Errorf("Stop: %v", err)
		}
	})
	return inst
}

func sh(script string) []string { return []string{"/bin/sh", "-c", script} }

// getEnv fetches an envserver's environment, waiting for it to listen.
func getEnv(t *testing.T, addr string) map[string]string {
	t.Helper()
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second}
	var env map[string]string
	testenv.WaitFor(t, 10*time.Second, "envserver at "+addr, func() bool {
		resp, err := client.Get("http://" + addr + "/env")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return json.NewDecoder(resp.Body).Decode(&env) == nil
	})
	return env
}

func waitDone(t *testing.T, inst deploy.Instance) {
	t.Helper()
	select {
	case <-inst.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("replica did not exit")
	}
}

func TestEnvironment(t *testing.T) {
	b, _ := newBackend(t)
	workDir := t.TempDir()
	tests := []struct {
		name       string
		userConfig json.RawMessage
		want       string
	}{
		{"user config", json.RawMessage(`{"steps":20}`), `{"steps":20}`},
		{"no user config", nil, "null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := start(t, b, deploy.ReplicaSpec{
				ID:          "painter#draw#" + strconv.Itoa(len(tt.want)),
				Application: "painter",
				Deployment:  "draw",
				Command:     []string{envServer},
				Env:         map[string]string{"MODEL": "tiny", "PORT": "1"},
				WorkingDir:  workDir,
				UserConfig:  tt.userConfig,
			})
			env := getEnv(t, inst.Address())
			_, port, _ := net.SplitHostPort(inst.Address())
			want := map[string]string{
				"PORT":               port, // spec.Env does not override it
				"MODEL":              "tiny",
				"GANTRY_REPLICA_ID":  "painter#draw#" + strconv.Itoa(len(tt.want)),
				"GANTRY_DEPLOYMENT":  "draw",
				"GANTRY_APPLICATION": "painter",
				"GANTRY_USER_CONFIG": tt.want,
				"GANTRY_HOST_INDEX":  "0",
				"_cwd":               workDir,
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s = %q, want %q", k, env[k], v)
				}
			}
			if v, ok := env["GANTRY_HOSTS"]; ok {
				t.Errorf("GANTRY_HOSTS = %q for a single-host replica", v)
			}
			if env["PATH"] != os.Getenv("PATH") {
				t.Errorf("PATH = %q, want the gateway's %q", env["PATH"], os.Getenv("PATH"))
			}
		})
	}
}

func TestLogs(t *testing.T) {
	b, dir := newBackend(t)
	script := `i=1; while [ $i -le 250 ]; do echo "line $i"; i=$((i+1)); done; echo "to stderr" >&2; printf "no newline"`
	spec := deploy.ReplicaSpec{ID: "app#dep#logs", Application: "app", Command: sh(script)}
	for run := 1; run <= 2; run++ {
		inst := start(t, b, spec)
		waitDone(t, inst)
		if err := inst.Stop(time.Second); err != nil { // drains the output
			t.Fatal(err)
		}
		if want := filepath.Join(dir, "logs", "app", "app#dep#logs-0.log"); inst.LogPath() != want {
			t.Errorf("LogPath = %q, want %q", inst.LogPath(), want)
		}
		want := []string{"line 249", "line 250", "to stderr", "no newline"}
		if got := inst.LogTail(4); !slices.Equal(got, want) {
			t.Errorf("LogTail(4) = %q, want %q", got, want)
		}
		if got := inst.LogTail(1000); len(got) != 201 || got[0] != "line 52" {
			t.Errorf("LogTail(1000) has %d lines starting %q, want 201 starting %q", len(got), got[0], "line 52")
		}
		data, err := os.ReadFile(inst.LogPath())
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(data), "line 250\n"); n != run {
			t.Errorf("run %d: log file has %d runs of output, want %d (appended)", run, n, run)
		}
	}
}

func TestExit(t *testing.T) {
	b, _ := newBackend(t)
	tests := []struct {
		script  string
		wantErr string
	}{
		{"exit 3", "exit status 3"},
		{"exit 0", "exit status 0"},
		{"kill -KILL $$", "signal: killed"},
		{"kill -TERM $$", "signal: terminated"},
		// The Go runtime would make a supervisor that gets this signal
		// print a trace and exit 2; it must die by the signal instead.
		{"kill -SEGV $$", "signal: segmentation fault"},
		{"kill -ABRT $$", "signal: aborted"},
		// The supervisor ignores SIGHUP; the command must not inherit that.
		{"kill -HUP $$", "signal: hangup"},
	}
	for _, tt := range tests {
		t.Run(tt.wantErr, func(t *testing.T) {
			inst := start(t, b, deploy.ReplicaSpec{Command: sh(tt.script)})
			waitDone(t, inst)
			if err := inst.Err(); err == nil || err.Error() != tt.wantErr {
				t.Errorf("Err() = %v, want %q", err, tt.wantErr)
			}
		})
	}

	t.Run("running", func(t *testing.T) {
		inst := start(t, b, deploy.ReplicaSpec{Command: []string{"sleep", "300"}})
		if err := inst.Err(); err != nil {
			t.Errorf("Err() = %v while running", err)
		}
		// The PID is the replica's, not its supervisor's.
		pid := inst.Members()[0].PID
		if cmdline, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline"); string(cmdline) != "sleep\x00300\x00" {
			t.Errorf("PID %d runs %q, want sleep 300", pid, cmdline)
		}
		var exitErr *exec.ExitError
		syscall.Kill(pid, syscall.SIGKILL)
		waitDone(t, inst)
		if err := inst.Err(); !errors.As(err, &exitErr) {
			t.Errorf("Err() = %#v, want an *exec.ExitError", err)
		}
	})
}

func TestStop(t *testing.T) {
	b, dir := newBackend(t)
	tests := []struct {
		name       string
		script     string
		grace      time.Duration
		wantErr    string
		wantMarker bool
	}{
		{
			name:       "TERM first",
			script:     `trap 'echo term > "$MARKER"; exit 0' TERM; echo ready; while :; do sleep 1; done`,
			grace:      time.Minute,
			wantErr:    "exit status 0",
			wantMarker: true,
		},
		{
			name:    "KILL after grace",
			script:  `trap '' TERM; echo ready; while :; do sleep 1; done`,
			grace:   200 * time.Millisecond,
			wantErr: "signal: killed",
		},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			marker := filepath.Join(dir, "marker"+strconv.Itoa(i))
			inst := start(t, b, deploy.ReplicaSpec{Command: sh(tt.script), Env: map[string]string{"MARKER": marker}})
			testenv.WaitFor(t, 10*time.Second, "trap installed", func() bool { return slices.Contains(inst.LogTail(1), "ready") })

			begin := time.Now()
			if err := inst.Stop(tt.grace); err != nil {
				t.Fatal(err)
			}
			took := time.Since(begin)
			select {
			case <-inst.Done():
			default:
				t.Fatal("Done open after Stop")
			}
			if err := inst.Err(); err == nil || err.Error() != tt.wantErr {
				t.Errorf("Err() = %v, want %q", err, tt.wantErr)
			}
			if _, err := os.Stat(marker); (err == nil) != tt.wantMarker {
				t.Errorf("marker written: %v, want %v", err == nil, tt.wantMarker)
			}
			if tt.wantMarker && took > tt.grace/2 {
				t.Errorf("Stop took %v for a replica that exits on SIGTERM", took)
			}
			if !tt.wantMarker && took < tt.grace {
				t.Errorf("Stop took %v, less than the grace period %v", took, tt.grace)
			}
		})
	}
}

func TestStopKillsProcessGroup(t *testing.T) {
	b, dir := newBackend(t)
	tests := []struct{ name, child string }{
		{"child dies on TERM", `sleep 300`},
		{"child ignores TERM", `sh -c 'trap "" TERM; exec sleep 300'`},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pidFile := filepath.Join(dir, "child"+strconv.Itoa(i))
			inst := start(t, b, deploy.ReplicaSpec{
				Command: sh(tt.child + ` & echo $! > "$PIDFILE"; wait`),
				Env:     map[string]string{"PIDFILE": pidFile},
			})
			child := readPID(t, pidFile)
			if !testenv.Alive(child) {
				t.Fatalf("child %d is not running", child)
			}
			if err := inst.Stop(300 * time.Millisecond); err != nil {
				t.Fatal(err)
			}
			if pid := inst.Members()[0].PID; !processGone(pid) {
				t.Errorf("replica %d still running after Stop", pid)
			}
			testenv.WaitFor(t, 10*time.Second, "the replica's child to exit", func() bool { return processGone(child) })
		})
	}
}

func TestStopIsIdempotent(t *testing.T) {
	b, _ := newBackend(t)
	inst := start(t, b, deploy.ReplicaSpec{Command: []string{"sleep", "300"}})
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			if err := inst.Stop(time.Second); err != nil {
				t.Errorf("Stop: %v", err)
			}
		})
	}
	wg.Wait()
	if err := inst.Stop(0); err != nil {
		t.Errorf("Stop after Stop: %v", err)
	}
	if got := inst.Err(); got == nil || got.Error() != "signal: terminated" {
		t.Errorf("Err() = %v, want signal: terminated", got)
	}
}

func TestMultiHost(t *testing.T) {
	b, _ := newBackend(t)
	tests := []struct {
		name      string
		memberEnv []map[string]string
		names     []string
	}{
		{"default names", nil, []string{"host-0", "host-1"}},
		{
			name: "TPU hostnames",
			memberEnv: []map[string]string{
				{"TPU_WORKER_ID": "0", "TPU_WORKER_HOSTNAMES": "tpu-0-0,tpu-0-1"},
				{"TPU_WORKER_ID": "1", "TPU_WORKER_HOSTNAMES": "tpu-0-0,tpu-0-1"},
			},
			names: []string{"tpu-0-0", "tpu-0-1"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst := start(t, b, deploy.ReplicaSpec{Command: []string{envServer}, Hosts: 2, MemberEnv: tt.memberEnv})
			ms := inst.Members()
			if len(ms) != 2 || ms[0].Address == ms[1].Address || inst.Address() != ms[0].Address {
				t.Fatalf("Members() = %+v, Address() = %s: want 2 members on distinct ports, traffic to member 0", ms, inst.Address())
			}
			wantHosts := tt.names[0] + "=" + ms[0].Address + "," + tt.names[1] + "=" + ms[1].Address
			for i, m := range ms {
				if m.Host != i || !strings.HasSuffix(m.LogPath, "-"+strconv.Itoa(i)+".log") || m.PID == 0 {
					t.Errorf("member %d = %+v", i, m)
				}
				env := getEnv(t, m.Address)
				_, port, _ := net.SplitHostPort(m.Address)
				if env["PORT"] != port || env["GANTRY_HOST_INDEX"] != strconv.Itoa(i) || env["GANTRY_HOSTS"] != wantHosts {
					t.Errorf("member %d: PORT=%q GANTRY_HOST_INDEX=%q GANTRY_HOSTS=%q, want %q, %d, %q",
						i, env["PORT"], env["GANTRY_HOST_INDEX"], env["GANTRY_HOSTS"], port, i, wantHosts)
				}
				if tt.memberEnv != nil && env["TPU_WORKER_ID"] != strconv.Itoa(i) {
					t.Errorf("member %d: TPU_WORKER_ID = %q", i, env["TPU_WORKER_ID"])
				}
			}

			// Any member's death ends the replica.
			syscall.Kill(ms[1].PID, syscall.SIGKILL)
			waitDone(t, inst)
			if err := inst.Err(); err == nil || err.Error() != "member 1: signal: killed" {
				t.Errorf("Err() = %v, want %q", err, "member 1: signal: killed")
			}
		})
	}
}

func TestStartFails(t *testing.T) {
	b, dir := newBackend(t)

	t.Run("no such command", func(t *testing.T) {
		_, err := b.Start(context.Background(), deploy.ReplicaSpec{ID: "a#d#1", Application: "a", Command: []string{"/nope"}})
		want := `start replica a#d#1: command ["/nope"]: fork/exec /nope: no such file or directory`
		if err == nil || err.Error() != want {
			t.Errorf("Start error = %v, want %q", err, want)
		}
	})

	t.Run("second member", func(t *testing.T) {
		// A folder where member 1's log should be makes member 1 fail
		// after member 0 started; member 0 must not be left running.
		if err := os.MkdirAll(filepath.Join(dir, "logs", "a", "a#d#2-1.log"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := b.Start(context.Background(), deploy.ReplicaSpec{ID: "a#d#2", Application: "a", Command: []string{"sleep", "300"}, Hosts: 2})
		if err == nil || !strings.HasPrefix(err.Error(), "start replica a#d#2: member 1: open log: ") {
			t.Errorf("Start error = %v, want one about member 1's log", err)
		}
		if pids := processesWithEnv(t, "GANTRY_REPLICA_ID=a#d#2"); len(pids) > 0 {
			t.Errorf("member 0 left running: %v", pids)
		}
	})

	t.Run("canceled", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := b.Start(ctx, deploy.ReplicaSpec{ID: "a#d#3", Command: []string{"sleep", "300"}})
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Start error = %v, want context.Canceled", err)
		}
	})

	t.Run("bad member env", func(t *testing.T) {
		_, err := b.Start(context.Background(), deploy.ReplicaSpec{ID: "a#d#4", Command: []string{"sleep", "300"}, Hosts: 2, MemberEnv: []map[string]string{{}}})
		if want := "start replica a#d#4: 1 member environments for 2 hosts"; err == nil || err.Error() != want {
			t.Errorf("Start error = %v, want %q", err, want)
		}
	})
}

func TestClose(t *testing.T) {
	b, _ := newBackend(t)
	inst, err := b.Start(context.Background(), deploy.ReplicaSpec{
		ID: "a#d#close", Command: sh(`trap '' TERM; while :; do sleep 1; done`),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-inst.Done():
	default:
		t.Fatal("replica still running after Close")
	}
	if err := inst.Err(); err == nil || err.Error() != "signal: killed" {
		t.Errorf("Err() = %v, want signal: killed", err)
	}
	if err := inst.Stop(time.Second); err != nil {
		t.Errorf("Stop after Close: %v", err)
	}
	if _, err := b.Start(context.Background(), deploy.ReplicaSpec{ID: "a#d#late", Command: []string{"true"}}); !errors.Is(err, local.ErrClosed) {
		t.Errorf("Start after Close = %v, want ErrClosed", err)
	}
}

// A replica that crashes at once: by the time Done is closed, its last
// words are in LogTail, so the controller can say why it failed.
func TestLastWordsAreInLogTailWhenDoneCloses(t *testing.T) {
	b, _ := newBackend(t)
	for i := range 20 {
		in := start(t, b, deploy.ReplicaSpec{
			ID: fmt.Sprintf("app#crash#%d", i), Application: "app", Deployment: "crash", Hosts: 1,
			Command: []string{"/bin/sh", "-c", "echo loading weights; echo cannot load the model weights >&2; exit 3"},
		})
		<-in.Done()
		tail := in.LogTail(5)
		if len(tail) == 0 || !strings.Contains(tail[len(tail)-1], "cannot load the model weights") {
			t.Fatalf("run %d: LogTail at Done = %q", i, tail)
		}
		in.Stop(time.Second)
	}
}

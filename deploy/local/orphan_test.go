package local_test

import (
	"bufio"
	"context"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/internal/testenv"
)

// TestNoOrphansAfterGatewayKill kills a process that started replicas through
// the Backend with SIGKILL, so no Go code runs, and checks that every member
// dies with it, and so does every process a member started: one left in the
// member's process group, one that called setsid, one that double-forked.
func TestNoOrphansAfterGatewayKill(t *testing.T) {
	mark := "ORPHANCHECK_MARK=" + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, markValue, _ := strings.Cut(mark, "=")
	gateway := exec.Command(orphanCheck, t.TempDir(), envServer, markValue)
	stdout, err := gateway.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	gateway.Stderr = &stderr
	if err := gateway.Start(); err != nil {
		t.Fatal(err)
	}
	defer gateway.Wait()
	defer gateway.Process.Kill()
	t.Cleanup(func() { killMarked(mark) }) // should the test fail

	var (
		pids []int
		addr string
	)
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && lines.Text() != "ready" {
		if a, ok := strings.CutPrefix(lines.Text(), "addr "); ok {
			addr = a
			continue
		}
		pid, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "pid "))
		if err != nil {
			t.Fatalf("orphancheck printed %q", lines.Text())
		}
		pids = append(pids, pid)
	}
	if len(pids) != 5 || addr == "" {
		t.Fatalf("orphancheck started %d members (want 5), serving at %q; stderr:\n%s", len(pids), addr, stderr.String())
	}
	for _, pid := range pids {
		if !testenv.Alive(pid) {
			t.Fatalf("member %d is not running before the gateway is killed", pid)
		}
	}
	getEnv(t, addr) // the replica serves: it is RUNNING
	leftBehind := []string{"sleep 321", "sleep 322", "sleep 323"}
	testenv.WaitFor(t, 10*time.Second, "the replica's descendants to start", func() bool {
		cmds := commandsWithEnv(t, mark)
		return !slices.ContainsFunc(leftBehind, func(c string) bool { return !slices.Contains(cmds, c) })
	})

	if err := gateway.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gateway.Wait()
	for _, pid := range pids {
		testenv.WaitFor(t, 10*time.Second, "member "+strconv.Itoa(pid)+" to die with the gateway", func() bool { return processGone(pid) })
	}
	var left []string
	if !testenv.Eventually(10*time.Second, func() bool {
		left = commandsWithEnv(t, mark)
		return len(left) == 0
	}) {
		t.Fatalf("processes started by a replica outlived the gateway: %q", left)
	}
}

// TestMembersOutliveStartingThread starts a replica from a goroutine locked to
// a thread that then ends. A member whose life were tied to the thread that
// forked it (Linux's parent-death signal belongs to a thread, not to a
// process) would die with it. A control child forked on the ending thread
// shows that the thread did end.
func TestMembersOutliveStartingThread(t *testing.T) {
	b, _ := newBackend(t)
	var (
		inst    deploy.Instance
		control *exec.Cmd
		err     error
	)
	onEndingThread(func() {
		control = exec.Command("sleep", "300")
		control.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err = control.Start(); err != nil {
			return
		}
		inst, err = b.Start(context.Background(), deploy.ReplicaSpec{
			ID: "a#d#thread", Application: "a", Deployment: "d", Command: []string{envServer},
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { inst.Stop(0) })

	controlDone := make(chan error, 1)
	go func() { controlDone <- control.Wait() }()
	select {
	case err := <-controlDone:
		if err == nil || err.Error() != "signal: killed" {
			t.Fatalf("control child ended with %v, want signal: killed", err)
		}
	case <-time.After(10 * time.Second):
		control.Process.Kill()
		<-controlDone
		t.Fatal("control child outlived the thread that forked it; did the thread end?")
	}
	getEnv(t, inst.Address()) // still serving
	select {
	case <-inst.Done():
		t.Fatalf("replica exited with its starting thread: %v", inst.Err())
	default:
	}
}

// onEndingThread runs f in a goroutine locked to a thread other than the
// main one, and ends that thread once f returns. (The runtime never ends the
// main thread: a locked goroutine exiting there parks it instead.)
func onEndingThread(f func()) {
	release := make(chan struct{})
	defer close(release)
	for {
		ran := make(chan bool)
		go func() {
			runtime.LockOSThread()
			if syscall.Gettid() == syscall.Getpid() {
				ran <- false
				<-release // hold the main thread so the next try lands elsewhere
				runtime.UnlockOSThread()
				return
			}
			f()
			ran <- true
			// Returning while locked ends the thread.
		}()
		if <-ran {
			return
		}
	}
}

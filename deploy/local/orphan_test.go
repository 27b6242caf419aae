package local_test

import (
	"bufio"
	"context"
	"os/exec"
	"runtime"
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
// dies with it.
func TestNoOrphansAfterGatewayKill(t *testing.T) {
	gateway := exec.Command(orphanCheck, t.TempDir())
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

	var pids []int
	lines := bufio.NewScanner(stdout)
	for lines.Scan() && lines.Text() != "ready" {
		pid, err := strconv.Atoi(strings.TrimPrefix(lines.Text(), "pid "))
		if err != nil {
			t.Fatalf("orphancheck printed %q", lines.Text())
		}
		pids = append(pids, pid)
	}
	if len(pids) != 4 {
		t.Fatalf("orphancheck started %d members, want 4; stderr:\n%s", len(pids), stderr.String())
	}
	for _, pid := range pids {
		if !testenv.Alive(pid) {
			t.Fatalf("member %d is not running before the gateway is killed", pid)
		}
	}

	if err := gateway.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	gateway.Wait()
	for _, pid := range pids {
		testenv.WaitFor(t, 10*time.Second, "member "+strconv.Itoa(pid)+" to die with the gateway", func() bool { return processGone(pid) })
	}
}

// TestMembersOutliveStartingThread starts a replica from a goroutine locked to
// a thread that then ends. A member forked on that thread would receive its
// parent-death signal; the spawner's thread forks it instead. A control child
// forked on the ending thread shows that the thread did end.
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

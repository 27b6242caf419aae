package kubernetes_test

import (
	"context"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"gantry.dev/gantry/internal/testenv"
)

// gatewayProc is a real `gantry serve --backend kubernetes` process.
type gatewayProc struct {
	name string
	cmd  *exec.Cmd
	http string
	done chan struct{}
}

// startGatewayProc starts a gateway process named name (its Lease identity).
func startGatewayProc(t *testing.T, ns, name string) *gatewayProc {
	httpPort, dashPort := testenv.FreePort(t), testenv.FreePort(t)
	log := logFile(t, "process-"+name)
	cmd := exec.Command(filepath.Join(binDir, "gantry"), "serve", "--backend", "kubernetes", "--namespace", ns,
		"--http-host", "127.0.0.1", "--http-port", strconv.Itoa(httpPort), "--dashboard-port", strconv.Itoa(dashPort),
		"--grpc-port", strconv.Itoa(testenv.FreePort(t)),
		"--lease-duration", "3s", "--state-dir", t.TempDir())
	cmd.Env = append(os.Environ(), "KUBECONFIG="+env.Kubeconfig, "POD_NAME="+name, "POD_NAMESPACE="+ns)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	g := &gatewayProc{name: name, cmd: cmd, http: net.JoinHostPort("127.0.0.1", strconv.Itoa(httpPort)), done: make(chan struct{})}
	go func() { cmd.Wait(); close(g.done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.done:
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-g.done
		}
	})
	return g
}

// leaseHolder is who holds the gateway Lease.
func leaseHolder(t *testing.T, ns string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := env.Client.CoordinationV1().Leases(ns).Get(ctx, "gantry-gateway", metav1.GetOptions{})
	if err != nil || l.Spec.HolderIdentity == nil {
		return ""
	}
	return *l.Spec.HolderIdentity
}

// Two gateway processes: both serve traffic, the leader reconciles. Killing
// the leader (SIGKILL) hands the Lease to the other, which adopts the pods
// without restarting any (same pod UIDs, same processes), keeps serving,
// and reconciles from then on (it writes the status of a new generation).
func TestLeaderFailover(t *testing.T) {
	_, ns, kubelet := setup(t)
	tpuPool(t, "cpu-leader", "", "", 2, 0)
	a := startGatewayProc(t, ns, "gw-a")
	if !testenv.Eventually(30*time.Second, func() bool { return leaseHolder(t, ns) == "gw-a" }) {
		t.Fatalf("gw-a did not take the Lease (holder %q)", leaseHolder(t, ns))
	}
	b := startGatewayProc(t, ns, "gw-b")
	create(t, ns, newService(t, "ha", `
applications:
  - name: ha
    deployments:
      - name: painter
        replica: {image: painter, command: [gantry, example, painter]}
        num_replicas: 2
        idempotent: true
        health_check_period_s: 1
`))
	waitStatus(t, ns, "ha", 2*time.Minute, "Running with 2 endpoints", running(2, 1))
	uids := podUIDs(t, ns)
	pids := kubelet.PIDs()
	if len(uids) != 2 || len(pids) != 2 {
		t.Fatalf("pods %v, processes %v: want 2 of each", uids, pids)
	}
	// The follower routes too, with its own health checks.
	for _, g := range []*gatewayProc{a, b} {
		if !testenv.Eventually(time.Minute, func() bool { return imagine(g.http) == nil }) {
			t.Fatalf("gateway %s does not serve: %v", g.name, imagine(g.http))
		}
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := imagine(b.http); err != nil {
					failed.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				} else {
					ok.Add(1)
				}
			}
		})
	}
	a.cmd.Process.Kill()
	<-a.done
	if !testenv.Eventually(30*time.Second, func() bool { return leaseHolder(t, ns) == "gw-b" }) {
		t.Fatalf("gw-b did not take over the Lease (holder %q)", leaseHolder(t, ns))
	}
	// The new leader reconciles: an in-place change (user_config) is applied
	// and its generation shows in the status only the leader writes.
	update(t, ns, "ha", func(cfg map[string]any) {
		firstDeployment(cfg)["user_config"] = map[string]any{"default_steps": int64(10)}
	})
	waitStatus(t, ns, "ha", time.Minute, "generation 2 Running under the new leader", running(2, 2))
	stop()
	wg.Wait()
	t.Logf("through gw-b across the failover: %d answered, %d failed", ok.Load(), failed.Load())
	if failed.Load() != 0 || ok.Load() == 0 {
		t.Errorf("through gw-b: %d answered, %d failed (first: %v); want all answered", ok.Load(), failed.Load(), firstErr.Load())
	}
	if got := podUIDs(t, ns); !maps.Equal(got, uids) {
		t.Errorf("pods after the failover %v, before %v: a replica pod was replaced", got, uids)
	}
	if got := kubelet.PIDs(); !maps.Equal(got, pids) {
		t.Errorf("replica processes after the failover %v, before %v: a replica was restarted", got, pids)
	}
}

func podUIDs(t *testing.T, ns string) map[string]types.UID {
	out := map[string]types.UID{}
	for _, p := range pods(t, ns) {
		out[p.Name] = p.UID
	}
	return out
}

// A gateway that stops leaves the replica pods running (they outlive it);
// the next one adopts them: no pod is replaced, no process restarted, and
// it serves through them and reconciles.
func TestGatewayRestartAdoptsPods(t *testing.T) {
	_, ns, kubelet := setup(t)
	tpuPool(t, "v4-restart-a", "tpu-v4-podslice", "2x2x1", 1, 4)
	tpuPool(t, "v4-restart-b", "tpu-v4-podslice", "2x2x1", 1, 4)
	_, stop := startStoppableGateway(t, ns, "gw-first")
	create(t, ns, loadService(t, "../../examples/stable-diffusion/gantryservice.yaml"))
	waitStatus(t, ns, "stable-diffusion-tpu", 2*time.Minute, "Running with 2 endpoints", running(2, 1))
	uids, pids := podUIDs(t, ns), kubelet.PIDs()
	stop()
	if got := podUIDs(t, ns); !maps.Equal(got, uids) {
		t.Fatalf("pods after the gateway stopped %v, before %v: want them left running", got, uids)
	}

	srv := startGateway(t, ns, "gw-second")
	if !testenv.Eventually(time.Minute, func() bool { return imagine(srv.HTTPAddr()) == nil }) {
		t.Fatalf("the new gateway does not serve: %v", imagine(srv.HTTPAddr()))
	}
	update(t, ns, "stable-diffusion-tpu", func(cfg map[string]any) {
		firstDeployment(cfg)["user_config"] = map[string]any{"default_steps": int64(10)}
	})
	waitStatus(t, ns, "stable-diffusion-tpu", time.Minute, "generation 2 Running under the new gateway", running(2, 2))
	if got := podUIDs(t, ns); !maps.Equal(got, uids) {
		t.Errorf("pods under the new gateway %v, before %v: a replica pod was replaced", got, uids)
	}
	if got := kubelet.PIDs(); !maps.Equal(got, pids) {
		t.Errorf("replica processes %v, before %v: a replica was restarted", got, pids)
	}
}

// A leader that loses its Lease (another holder took it) stops: it exits
// with an error, so that its pod restarts as a follower, and it leaves the
// replica pods running.
func TestLeaderThatLosesTheLeaseExits(t *testing.T) {
	_, ns, _ := setup(t)
	tpuPool(t, "cpu-lose", "", "", 1, 0)
	g := startGatewayProc(t, ns, "gw-a")
	create(t, ns, newService(t, "lose", `
applications:
  - name: lose
    deployments:
      - name: painter
        replica: {image: painter, command: [gantry, example, painter]}
        health_check_period_s: 1
`))
	waitStatus(t, ns, "lose", 2*time.Minute, "Running", running(1, 1))
	uids := podUIDs(t, ns)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	leases := env.Client.CoordinationV1().Leases(ns)
	for {
		l, err := leases.Get(ctx, "gantry-gateway", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		intruder, hour := "intruder", int32(3600)
		now := metav1.NewMicroTime(time.Now())
		l.Spec.HolderIdentity, l.Spec.LeaseDurationSeconds, l.Spec.AcquireTime, l.Spec.RenewTime = &intruder, &hour, &now, &now
		if _, err = leases.Update(ctx, l, metav1.UpdateOptions{}); err == nil {
			break
		}
	}
	select {
	case <-g.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the gateway kept running after losing its Lease")
	}
	if code := g.cmd.ProcessState.ExitCode(); code == 0 {
		t.Errorf("exit code %d after losing the Lease, want non-zero", code)
	}
	if got := podUIDs(t, ns); !maps.Equal(got, uids) {
		t.Errorf("pods after the leader stopped %v, before %v: want them left running", got, uids)
	}
}

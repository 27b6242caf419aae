package k8stest_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"gantry.dev/gantry/internal/k8stest"
	"gantry.dev/gantry/internal/testenv"
)

const wait = 30 * time.Second

func TestKubeconfigReachesAPIServer(t *testing.T) {
	e := k8stest.Need(t, env)
	cfg, err := clientcmd.BuildConfigFromFlags("", e.Kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cfg.Host, "https://127.0.0.1:") {
		t.Fatalf("kubeconfig server = %q, want https://127.0.0.1:<port>", cfg.Host)
	}
	c, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	v, err := c.Discovery().ServerVersion()
	if err != nil {
		t.Fatal(err)
	}
	if v.GitVersion != "v1.34.4" {
		t.Errorf("server version = %q, want v1.34.4", v.GitVersion)
	}
}

// tpuPool adds a 2-node TPU v4 2x2x1 pool with 4 chips per node and waits until KWOK
// has made the nodes Ready.
func tpuPool(t *testing.T, e *k8stest.Env, pool string) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	nodes, err := e.AddNodePool(ctx, pool, 2, 4, map[string]string{
		k8stest.LabelTPUAccelerator: "tpu-v4-podslice",
		k8stest.LabelTPUTopology:    "2x2x1",
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.DeleteNodePool(context.Background(), pool); err != nil {
			t.Log(err)
		}
	})
	if err := e.WaitNodesReady(ctx, nodes...); err != nil {
		t.Fatal(err)
	}
	return nodes
}

// tpuPod is a pod for one host of a 2x2x1 slice in pool: nodeSelector and
// google.com/tpu requests = limits = chips.
func tpuPod(name, pool string, chips int64) *corev1.Pod {
	q := *resource.NewQuantity(chips, resource.DecimalSI)
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{"app": "k8stest"}},
		Spec: corev1.PodSpec{
			NodeSelector: map[string]string{
				k8stest.LabelNodePool:       pool,
				k8stest.LabelTPUAccelerator: "tpu-v4-podslice",
				k8stest.LabelTPUTopology:    "2x2x1",
			},
			Containers: []corev1.Container{{
				Name:    "replica",
				Image:   "gantry:test",
				Command: []string{"/bin/false"},
				Resources: corev1.ResourceRequirements{
					Requests: corev1.ResourceList{k8stest.ResourceTPU: q},
					Limits:   corev1.ResourceList{k8stest.ResourceTPU: q},
				},
			}},
		},
	}
}

func createPod(t *testing.T, e *k8stest.Env, ns string, pod *corev1.Pod) {
	t.Helper()
	if _, err := e.Client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{}); err != nil {
		t.Fatalf("create pod %s: %v", pod.Name, err)
	}
}

// waitPod polls pod name until cond holds, and returns it.
func waitPod(t *testing.T, e *k8stest.Env, ns, name, what string, cond func(*corev1.Pod) bool) *corev1.Pod {
	t.Helper()
	var last *corev1.Pod
	ok := testenv.Eventually(wait, func() bool {
		p, err := e.Client.CoreV1().Pods(ns).Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false
		}
		last = p
		return cond(p)
	})
	if !ok {
		t.Fatalf("pod %s never %s; last status: %+v", name, what, last.Status)
	}
	return last
}

func TestTPUPodIsScheduledOntoItsPool(t *testing.T) {
	e := k8stest.Need(t, env)
	ns := e.Namespace(t)
	nodes := tpuPool(t, e, "sched-v4")
	// A second pool with the same accelerator and topology: the pool label decides.
	tpuPool(t, e, "sched-other")

	createPod(t, e, ns, tpuPod("host-0", "sched-v4", 4))
	p := waitPod(t, e, ns, "host-0", "Running with an IP", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != ""
	})
	if p.Spec.NodeName != nodes[0] && p.Spec.NodeName != nodes[1] {
		t.Errorf("scheduled onto %q, want one of %v", p.Spec.NodeName, nodes)
	}
	_, podNet, _ := net.ParseCIDR(e.PodCIDR)
	if ip := net.ParseIP(p.Status.PodIP); ip == nil || !podNet.Contains(ip) {
		t.Errorf("pod IP %q, want one in %s", p.Status.PodIP, e.PodCIDR)
	}
}

func TestTooBigTPUPodStaysPending(t *testing.T) {
	e := k8stest.Need(t, env)
	ns := e.Namespace(t)
	tpuPool(t, e, "pending-v4")

	createPod(t, e, ns, tpuPod("too-big", "pending-v4", 8))
	p := waitPod(t, e, ns, "too-big", "marked unschedulable", func(p *corev1.Pod) bool {
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonUnschedulable {
				return true
			}
		}
		return false
	})
	if p.Spec.NodeName != "" || p.Status.Phase != corev1.PodPending {
		t.Errorf("node %q phase %s, want unscheduled and Pending", p.Spec.NodeName, p.Status.Phase)
	}
	var msg string
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled {
			msg = c.Message
		}
	}
	if !strings.Contains(msg, "Insufficient google.com/tpu") {
		t.Errorf("scheduler message %q, want it to name Insufficient google.com/tpu", msg)
	}
}

func TestAddNodePoolRefusesTPUPoolWithoutTopology(t *testing.T) {
	e := k8stest.Need(t, env)
	_, err := e.AddNodePool(context.Background(), "no-topology", 1, 4, map[string]string{k8stest.LabelTPUAccelerator: "tpu-v4-podslice"})
	if err == nil || !strings.Contains(err.Error(), k8stest.LabelTPUTopology) {
		t.Fatalf("err = %v, want one naming %s", err, k8stest.LabelTPUTopology)
	}
}

// serverPod is a TPU pod whose container is this test binary serving HTTP on its pod IP.
func serverPod(t *testing.T, name, pool string) *corev1.Pod {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	p := tpuPod(name, pool, 4)
	c := &p.Spec.Containers[0]
	c.Command = []string{self}
	c.Args = []string{"$(POD_IP):$(PORT)"}
	c.Env = []corev1.EnvVar{
		{Name: helperEnv, Value: "1"},
		{Name: "PORT", Value: "8080"},
		{Name: "POD_IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
		{Name: "POD_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "POD_NAMESPACE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.namespace"}}},
		{Name: "NODE_NAME", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		{Name: "CPUS", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
	}
	c.Resources.Limits[corev1.ResourceCPU] = resource.MustParse("1500m")
	grace := int64(5)
	p.Spec.TerminationGracePeriodSeconds = &grace
	return p
}

func TestRunPodsServesOnThePodIPAndStopsOnDelete(t *testing.T) {
	e := k8stest.Need(t, env)
	ns := e.Namespace(t)
	tpuPool(t, e, "serve-v4")
	k := e.RunPods(context.Background(), ns, "app=k8stest")
	t.Cleanup(k.Stop)

	createPod(t, e, ns, serverPod(t, "server-0", "serve-v4"))
	p := waitPod(t, e, ns, "server-0", "Running with an IP", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != ""
	})
	addr := net.JoinHostPort(p.Status.PodIP, "8080")
	client := &http.Client{Timeout: 2 * time.Second}
	var got map[string]string
	if !testenv.Eventually(wait, func() bool {
		resp, err := client.Get("http://" + addr + "/whoami")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		return resp.StatusCode == http.StatusOK && json.NewDecoder(resp.Body).Decode(&got) == nil
	}) {
		t.Fatalf("nothing answered on %s; problems: %v; log %s", addr, k.Problems(), k.LogPath("server-0"))
	}
	want := map[string]string{"addr": addr, "pod": "server-0", "namespace": ns, "node": p.Spec.NodeName, "hostname": "server-0", "cpus": "2"}
	for key, v := range want {
		if got[key] != v {
			t.Errorf("pod saw %s = %q, want %q", key, got[key], v)
		}
	}
	pid, ok := k.PIDs()["server-0"]
	if !ok || !testenv.Alive(pid) {
		t.Fatalf("PIDs() = %v, want a live pid for server-0", k.PIDs())
	}

	if err := e.Client.CoreV1().Pods(ns).Delete(context.Background(), "server-0", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !testenv.Eventually(wait, func() bool { return !testenv.Alive(pid) }) {
		t.Fatalf("process %d still running after its pod was deleted", pid)
	}
	// PIDs drops the pod once the process has been reaped, a moment after it died.
	if !testenv.Eventually(wait, func() bool { return len(k.PIDs()) == 0 }) {
		t.Errorf("PIDs() = %v after delete, want none", k.PIDs())
	}
	if _, err := client.Get("http://" + addr + "/whoami"); err == nil {
		t.Errorf("%s still answers after the pod was deleted", addr)
	}

	// A new pod of the same name (as a StatefulSet-style replacement) runs afresh.
	createPod(t, e, ns, serverPod(t, "server-0", "serve-v4"))
	p = waitPod(t, e, ns, "server-0", "Running again", func(p *corev1.Pod) bool {
		return p.Status.Phase == corev1.PodRunning && p.Status.PodIP != ""
	})
	addr = net.JoinHostPort(p.Status.PodIP, "8080")
	if !testenv.Eventually(wait, func() bool {
		resp, err := client.Get("http://" + addr + "/whoami")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}) {
		t.Fatalf("the replacement pod never answered on %s; problems: %v", addr, k.Problems())
	}
	if again := k.PIDs()["server-0"]; again == 0 || again == pid {
		t.Errorf("replacement pid = %d, want a new process (old %d)", again, pid)
	}
}

func TestRunPodsRefusesPodIPOutsideLoopback(t *testing.T) {
	e := k8stest.Need(t, env)
	ns := e.Namespace(t)
	k := e.RunPods(context.Background(), ns, "")
	t.Cleanup(k.Stop)

	// Bound straight to a node no KWOK manages, with a status we write ourselves: the
	// only way to get a pod IP the control plane would never hand out. Nothing dials it.
	pod := serverPod(t, "offsite", "none")
	pod.Spec.NodeSelector = nil
	pod.Spec.NodeName = "not-a-kwok-node"
	created, err := e.Client.CoreV1().Pods(ns).Create(context.Background(), pod, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created.Status.Phase = corev1.PodRunning
	created.Status.PodIP = "10.1.2.3"
	created.Status.PodIPs = []corev1.PodIP{{IP: "10.1.2.3"}}
	if _, err := e.Client.CoreV1().Pods(ns).UpdateStatus(context.Background(), created, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if !testenv.Eventually(wait, func() bool { return strings.Contains(k.Problems()["offsite"], "refused") }) {
		t.Fatalf("Problems() = %v, want offsite refused", k.Problems())
	}
	if pids := k.PIDs(); len(pids) != 0 {
		t.Errorf("PIDs() = %v, want no process for a pod outside 127.0.0.0/8", pids)
	}
}

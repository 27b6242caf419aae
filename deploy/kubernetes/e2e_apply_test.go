package kubernetes_test

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gantry.dev/gantry/deploy/kubernetes"
	"gantry.dev/gantry/internal/testenv"
)

// Applying the example GantryService (2 painters on tpu-v4-podslice 2x2x1)
// with two such node pools: one pod per replica, each with the webhook's
// placement and environment, on a node of its own pool; status reaches
// Running with 2 endpoints; the gateway serves pictures from the pods; the
// printer columns are those of kubectl get.
func TestApplyExampleGantryService(t *testing.T) {
	_, ns, _ := setup(t)
	tpuPool(t, "v4-a", "tpu-v4-podslice", "2x2x1", 1, 4)
	tpuPool(t, "v4-b", "tpu-v4-podslice", "2x2x1", 1, 4)
	srv := startGateway(t, ns, "gw-0")
	svc := loadService(t, "../../examples/stable-diffusion/gantryservice.yaml")
	create(t, ns, svc)
	waitStatus(t, ns, "stable-diffusion-tpu", 2*time.Minute, "Running with 2 endpoints", running(2, 1))

	ps := pods(t, ns)
	if len(ps) != 2 {
		t.Fatalf("%d pods, want 2 (one per replica, one host per 2x2x1 slice)", len(ps))
	}
	uid := get(t, ns, "stable-diffusion-tpu").GetUID()
	var names, pools []string
	for _, p := range ps {
		env := podEnv(p)
		checkTPUPod(t, p, "tpu-v4-podslice", "2x2x1")
		if env["TPU_WORKER_ID"] != "0" || !strings.HasPrefix(env["TPU_NAME"], "tpu-group-") {
			t.Errorf("pod %s: TPU_WORKER_ID %q TPU_NAME %q, want 0 and tpu-group-<slice>", p.Name, env["TPU_WORKER_ID"], env["TPU_NAME"])
		}
		if _, ok := env["TPU_WORKER_HOSTNAMES"]; ok || p.Spec.Hostname != "" || p.Spec.Subdomain != "" {
			t.Errorf("pod %s: a single-host slice got hostnames (%q, %s.%s); the webhook sets them for multi-host only",
				p.Name, env["TPU_WORKER_HOSTNAMES"], p.Spec.Hostname, p.Spec.Subdomain)
		}
		if p.Labels["replicaIndex"] != env["TPU_NAME"] {
			t.Errorf("pod %s: replicaIndex label %q, TPU_NAME %q: want equal", p.Name, p.Labels["replicaIndex"], env["TPU_NAME"])
		}
		if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].UID != uid {
			t.Errorf("pod %s: owner %+v, want the GantryService", p.Name, p.OwnerReferences)
		}
		for _, l := range []string{"gantry.dev/service", "gantry.dev/application", "gantry.dev/deployment", "gantry.dev/replica", "gantry.dev/version", "gantry.dev/group-index"} {
			if p.Labels[l] == "" {
				t.Errorf("pod %s: no label %s", p.Name, l)
			}
		}
		names = append(names, env["TPU_NAME"])
		pools = append(pools, nodePool(t, p))
	}
	slices.Sort(names)
	slices.Sort(pools)
	if !slices.Equal(names, []string{"tpu-group-0", "tpu-group-1"}) || pools[0] == pools[1] {
		t.Errorf("replicas on slices %v in node pools %v, want tpu-group-0 and -1 in different pools", names, pools)
	}
	for range 4 {
		if err := imagine(srv.HTTPAddr()); err != nil {
			t.Fatalf("through the gateway: %v", err)
		}
	}

	tab := table(t, ns)
	var cols []string
	for _, c := range tab.ColumnDefinitions {
		cols = append(cols, strings.ToUpper(c.Name))
	}
	if !slices.Equal(cols, []string{"NAME", "SERVICE STATUS", "NUM SERVE ENDPOINTS", "AGE"}) {
		t.Errorf("kubectl get gantryservices columns %q, want NAME, SERVICE STATUS, NUM SERVE ENDPOINTS, AGE", cols)
	}
	if len(tab.Rows) != 1 || len(tab.Rows[0].Cells) != 4 || tab.Rows[0].Cells[0] != "stable-diffusion-tpu" ||
		tab.Rows[0].Cells[1] != "Running" || tab.Rows[0].Cells[2] != float64(2) {
		t.Errorf("kubectl get gantryservices rows %+v, want stable-diffusion-tpu Running 2", tab.Rows)
	}
}

// checkTPUPod checks what every TPU pod gets: the node pool's labels as
// nodeSelector, google.com/tpu requests equal to limits, both affinity
// rules on the node pool, and a node that matches.
func checkTPUPod(t *testing.T, p corev1.Pod, accelerator, topology string) {
	t.Helper()
	if p.Spec.NodeSelector[kubernetes.NodeLabelAccelerator] != accelerator || p.Spec.NodeSelector[kubernetes.NodeLabelTopology] != topology {
		t.Errorf("pod %s: nodeSelector %v", p.Name, p.Spec.NodeSelector)
	}
	r := p.Spec.Containers[0].Resources
	if req, lim := r.Requests[kubernetes.ResourceTPU], r.Limits[kubernetes.ResourceTPU]; req.Value() != 4 || !req.Equal(lim) {
		t.Errorf("pod %s: google.com/tpu requests %s limits %s, want 4 = 4", p.Name, req.String(), lim.String())
	}
	a := p.Spec.Affinity
	if a == nil || a.PodAffinity == nil || a.PodAntiAffinity == nil ||
		a.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey != kubernetes.NodeLabelNodePool ||
		a.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0].TopologyKey != kubernetes.NodeLabelNodePool {
		t.Errorf("pod %s: affinity %+v, want required podAffinity and podAntiAffinity on %s", p.Name, a, kubernetes.NodeLabelNodePool)
	}
	if podEnv(p)["GANTRY_HOST"] != "fieldRef:status.podIP" || !strings.HasPrefix(p.Status.PodIP, "127.") {
		t.Errorf("pod %s: GANTRY_HOST %q, pod IP %q", p.Name, podEnv(p)["GANTRY_HOST"], p.Status.PodIP)
	}
	n := node(t, p)
	if n.Labels[kubernetes.NodeLabelAccelerator] != accelerator || n.Labels[kubernetes.NodeLabelTopology] != topology {
		t.Errorf("pod %s scheduled on node %s with labels %v", p.Name, n.Name, n.Labels)
	}
}

func node(t *testing.T, p corev1.Pod) *corev1.Node {
	t.Helper()
	if p.Spec.NodeName == "" {
		t.Fatalf("pod %s is not scheduled", p.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n, err := env.Client.CoreV1().Nodes().Get(ctx, p.Spec.NodeName, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func nodePool(t *testing.T, p corev1.Pod) string {
	return node(t, p).Labels[kubernetes.NodeLabelNodePool]
}

// A 2x2x2 v4 slice has 8 chips on 2 hosts of 4: each replica is 2 pods in
// one node pool, with hostnames <group>-<slice>-<host> in the subdomain of
// the headless Service and TPU_WORKER_HOSTNAMES naming both, as KubeRay's
// webhook injects them.
func TestMultiHostSlice(t *testing.T) {
	_, ns, _ := setup(t)
	tpuPool(t, "v4-8", "tpu-v4-podslice", "2x2x2", 2, 4)
	startGateway(t, ns, "gw-0")
	create(t, ns, newService(t, "mh", `
worker_groups:
  - {name: mh-group, accelerator: tpu-v4-podslice, topology: 2x2x2, chips_per_host: 4, replicas: 1}
applications:
  - name: big
    deployments:
      - name: painter
        replica: {image: painter, command: [gantry, example, painter]}
        ray_actor_options: {resources: {TPU: 8}}
        health_check_period_s: 1
`))
	waitStatus(t, ns, "mh", 2*time.Minute, "Running with 1 endpoint", running(1, 1))
	ps := pods(t, ns)
	if len(ps) != 2 {
		t.Fatalf("%d pods, want 2 (the hosts of one 2x2x2 slice)", len(ps))
	}
	slices.SortFunc(ps, func(a, b corev1.Pod) int {
		return strings.Compare(a.Labels["gantry.dev/group-index"], b.Labels["gantry.dev/group-index"])
	})
	hostnames := "mh-group-0-0.mh-headless,mh-group-0-1.mh-headless"
	for h, p := range ps {
		checkTPUPod(t, p, "tpu-v4-podslice", "2x2x2")
		env := podEnv(p)
		if env["TPU_WORKER_ID"] != strconv.Itoa(h) || env["TPU_NAME"] != "mh-group-0" || env["TPU_WORKER_HOSTNAMES"] != hostnames {
			t.Errorf("pod %s: TPU_WORKER_ID %q TPU_NAME %q TPU_WORKER_HOSTNAMES %q, want %d, mh-group-0, %s",
				p.Name, env["TPU_WORKER_ID"], env["TPU_NAME"], env["TPU_WORKER_HOSTNAMES"], h, hostnames)
		}
		if want := "mh-group-0-" + strconv.Itoa(h); p.Spec.Hostname != want || p.Spec.Subdomain != "mh-headless" {
			t.Errorf("pod %s: hostname %q subdomain %q, want %s and mh-headless", p.Name, p.Spec.Hostname, p.Spec.Subdomain, want)
		}
	}
	if nodePool(t, ps[0]) != nodePool(t, ps[1]) || ps[0].Spec.NodeName == ps[1].Spec.NodeName {
		t.Errorf("hosts on nodes %s and %s: want two nodes of one pool", ps[0].Spec.NodeName, ps[1].Spec.NodeName)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hl, err := env.Client.CoreV1().Services(ns).Get(ctx, "mh-headless", metav1.GetOptions{})
	if err != nil || hl.Spec.ClusterIP != corev1.ClusterIPNone || !hl.Spec.PublishNotReadyAddresses {
		t.Errorf("headless service: %v %+v", err, hl)
	}
}

// A replica whose pod cannot be scheduled is PENDING with the scheduler's
// reason in its deployment's status; a new node pool lets it run.
func TestUnschedulableReplicaIsPending(t *testing.T) {
	_, ns, _ := setup(t)
	tpuPool(t, "v5e-a", "tpu-v5-lite-podslice", "2x2", 1, 4)
	startGateway(t, ns, "gw-0")
	create(t, ns, newService(t, "pend", `
worker_groups:
  - {name: v5e, accelerator: tpu-v5-lite-podslice, topology: 2x2, chips_per_host: 4, replicas: 2}
applications:
  - name: pend
    deployments:
      - name: painter
        replica: {image: painter, command: [gantry, example, painter]}
        ray_actor_options: {resources: {TPU: 4}}
        num_replicas: 2
        health_check_period_s: 1
`))
	st := waitStatus(t, ns, "pend", 2*time.Minute, "one replica RUNNING, one PENDING with the scheduler's reason", func(st status) bool {
		d := st.Applications["pend"].Deployments["painter"]
		return d.Replicas["RUNNING"] == 1 && d.Replicas["PENDING"] == 1 && st.NumServeEndpoints == 1 &&
			strings.Contains(d.Message, "cannot be scheduled: 0/") && strings.Contains(d.Message, "nodes are available")
	})
	t.Logf("pending: %s", st.Applications["pend"].Deployments["painter"].Message)
	if st.ServiceStatus != "Deploying" || st.condition("Ready").Status != metav1.ConditionFalse {
		t.Errorf("with a replica pending: serviceStatus %q Ready %q, want Deploying and False", st.ServiceStatus, st.condition("Ready").Status)
	}
	tpuPool(t, "v5e-b", "tpu-v5-lite-podslice", "2x2", 1, 4)
	waitStatus(t, ns, "pend", 2*time.Minute, "Running with 2 endpoints once a second pool exists", running(2, 1))
}

// An invalid serveConfig changes nothing and its status names every
// problem; fixing it deploys.
func TestInvalidServeConfig(t *testing.T) {
	_, ns, _ := setup(t)
	tpuPool(t, "cpu-invalid", "", "", 1, 0)
	startGateway(t, ns, "gw-0")
	create(t, ns, newService(t, "bad", `
applications:
  - name: bad
    deployments:
      - name: painter
        replica: {image: painter, command: [gantry, example, painter]}
        num_replicas: -1
        max_ongoing_requests: 0
        colour: blue
`))
	st := waitStatus(t, ns, "bad", time.Minute, "refused", func(st status) bool {
		return st.condition("Ready").Reason == "ValidationFailed"
	})
	msg := st.condition("Ready").Message
	for _, want := range []string{"spec.serveConfig.applications[0].deployments[0].colour", "num_replicas", "max_ongoing_requests"} {
		if !strings.Contains(msg, want) {
			t.Errorf("Ready message %q does not name %s", msg, want)
		}
	}
	if st.ServiceStatus != "DeployFailed" || st.ObservedGeneration != 1 || len(pods(t, ns)) != 0 {
		t.Errorf("refused service: serviceStatus %q observedGeneration %d pods %d, want DeployFailed, 1, 0",
			st.ServiceStatus, st.ObservedGeneration, len(pods(t, ns)))
	}
	update(t, ns, "bad", func(cfg map[string]any) {
		d := firstDeployment(cfg)
		delete(d, "colour")
		d["num_replicas"], d["max_ongoing_requests"], d["health_check_period_s"] = int64(1), int64(2), int64(1)
	})
	waitStatus(t, ns, "bad", 2*time.Minute, "Running once fixed", running(1, 2))
	if !testenv.Eventually(10*time.Second, func() bool { return len(pods(t, ns)) == 1 }) {
		t.Errorf("%d pods, want 1", len(pods(t, ns)))
	}
}

// Several GantryServices make one config: each runs its applications, and
// a service reusing an application name an older one has is refused with a
// message naming that service, without touching either.
func TestServicesShareTheNamespace(t *testing.T) {
	_, ns, _ := setup(t)
	tpuPool(t, "cpu-shared", "", "", 1, 0)
	srv := startGateway(t, ns, "gw-0")
	app := func(name, prefix string) string {
		return `
applications:
  - name: ` + name + `
    route_prefix: ` + prefix + `
    deployments:
      - name: painter
        replica: {image: painter, command: [gantry, example, painter]}
        health_check_period_s: 1
`
	}
	create(t, ns, newService(t, "first", app("art", "/art")))
	waitStatus(t, ns, "first", 2*time.Minute, "Running", running(1, 1))
	create(t, ns, newService(t, "second", app("art", "/other")))
	st := waitStatus(t, ns, "second", time.Minute, "refused", func(st status) bool {
		return st.condition("Ready").Reason == "ValidationFailed"
	})
	if msg := st.condition("Ready").Message; !strings.Contains(msg, `application "art" is already defined by GantryService first`) {
		t.Errorf("second service's message %q does not name the conflict", msg)
	}
	create(t, ns, newService(t, "third", app("sketch", "/sketch")))
	waitStatus(t, ns, "third", 2*time.Minute, "Running", running(1, 1))
	waitStatus(t, ns, "first", time.Minute, "still Running", running(1, 1))
	for _, prefix := range []string{"/art", "/sketch"} {
		resp, err := client.Get("http://" + srv.HTTPAddr() + prefix + "/imagine?prompt=x&steps=1&width=64&height=64")
		if err != nil || resp.StatusCode != 200 {
			t.Errorf("GET %s/imagine: %v %v", prefix, err, resp)
		}
		if resp != nil {
			resp.Body.Close()
		}
	}
	if n := len(pods(t, ns)); n != 2 {
		t.Errorf("%d pods, want 2 (first's and third's)", n)
	}

	// The GantryServices are the config: one deleted through the REST API
	// comes back.
	req, _ := http.NewRequest(http.MethodDelete, "http://"+srv.DashboardAddr()+"/api/serve/applications/", nil)
	resp, err := client.Do(req)
	if err != nil || resp.StatusCode/100 != 2 {
		t.Fatalf("DELETE /api/serve/applications/: %v %v", err, resp)
	}
	resp.Body.Close()
	if !testenv.Eventually(time.Minute, func() bool {
		apps := srv.Controller().Snapshot().Config
		return apps != nil && len(apps.Applications) == 2 && imagine(srv.HTTPAddr()+"/art") == nil
	}) {
		t.Errorf("the GantryServices' applications did not come back after a DELETE through the REST API: %+v", srv.Controller().Snapshot().Config)
	}

	// Deleting a GantryService stops its replicas, and only its.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := dynClient(t).Resource(kubernetes.GantryServices).Namespace(ns).Delete(ctx, "third", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if !testenv.Eventually(time.Minute, func() bool {
		ps := pods(t, ns)
		return len(ps) == 1 && ps[0].Labels[kubernetes.LabelService] == "first"
	}) {
		t.Errorf("after deleting GantryService third: pods %d, want only first's", len(pods(t, ns)))
	}
	if err := imagine(srv.HTTPAddr() + "/art"); err != nil {
		t.Errorf("first's application after deleting third: %v", err)
	}
}

package kubernetes_test

// End-to-end tests against a real kube-apiserver, kube-scheduler and etcd,
// with KWOK nodes standing in for GKE TPU node pools and the harness's
// kubelet stand-in running replica pods as local processes bound to their
// pod IPs (127.64.0.0/16): every request stays on this machine. They run
// when GANTRY_K8S_TESTS=1 or CI=true (see internal/k8stest).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/kubernetes"
	"gantry.dev/gantry/internal/k8stest"
	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/serve"
)

var (
	env    *k8stest.Env
	binDir string // holds the gantry binary the tests run as gateways and replicas
)

type withControlPlane struct{ m *testing.M }

func (w withControlPlane) Run() int { return k8stest.Main(w.m, &env) }

func TestMain(m *testing.M) {
	if !k8stest.Enabled() {
		os.Exit(k8stest.Main(m, &env)) // says so loudly; every end-to-end test skips
	}
	os.Exit(testenv.RunWithBinaries(withControlPlane{m}, &binDir, "gantry.dev/gantry/cmd/gantry"))
}

var crdOnce sync.Once

// setup returns the control plane with the GantryService CRD installed,
// a fresh namespace and a kubelet stand-in for its Gantry pods.
func setup(t *testing.T) (*k8stest.Env, string, *k8stest.Kubelet) {
	e := k8stest.Need(t, env)
	crdOnce.Do(func() { installCRD(t, e) })
	ns := e.Namespace(t)
	k := e.RunPods(context.Background(), ns, kubernetes.LabelManagedBy+"="+kubernetes.ManagedBy)
	t.Cleanup(k.Stop)
	return e, ns, k
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// installCRD applies the chart's CRD and waits until it serves.
func installCRD(t *testing.T, e *k8stest.Env) {
	b, err := os.ReadFile("../../charts/gantry/crds/gantryservices.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dyn := dynClient(t)
	if _, err := dyn.Resource(crdGVR).Create(ctx, &unstructured.Unstructured{Object: obj}, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating the GantryService CRD: %v", err)
	}
	if !testenv.Eventually(time.Minute, func() bool {
		_, err := dyn.Resource(kubernetes.GantryServices).Namespace("default").List(ctx, metav1.ListOptions{})
		return err == nil
	}) {
		t.Fatal("the GantryService CRD is not served")
	}
}

func dynClient(t *testing.T) dynamic.Interface {
	d, err := dynamic.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// logFile returns a file for a component's log, printed when the test fails.
func logFile(t *testing.T, name string) *os.File {
	f, err := os.Create(filepath.Join(t.TempDir(), name+".log"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(f.Name())
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("%s log (tail):\n%s", name, b)
		}
		f.Close()
	})
	return f
}

// startGateway runs a gateway in this process, as `gantry serve --backend
// kubernetes` does, and returns its server.
func startGateway(t *testing.T, ns, identity string) *serve.Server {
	srv, _ := startStoppableGateway(t, ns, identity)
	return srv
}

// startStoppableGateway is startGateway with a function that stops the
// gateway (as SIGTERM does) and waits for it to end.
func startStoppableGateway(t *testing.T, ns, identity string) (*serve.Server, func()) {
	t.Setenv("KUBECONFIG", env.Kubeconfig)
	log := slog.New(slog.NewTextHandler(logFile(t, "gateway-"+identity), &slog.HandlerOptions{Level: slog.LevelDebug}))
	kgw, err := kubernetes.NewGateway(context.Background(), kubernetes.GatewayOptions{Namespace: ns, Identity: identity, Logger: log,
		LeaseDuration: 3 * time.Second, RenewDeadline: 2 * time.Second, RetryPeriod: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// The components cmd/gantry builds for --backend kubernetes.
	gw, err := serve.NewGateway(serve.Options{HTTPAddr: "127.0.0.1:0", GRPCAddr: "127.0.0.1:0", DashboardAddr: "127.0.0.1:0", Logger: log},
		deploy.Options{Backend: kgw.Backend(), Logger: log, Follower: true, Detach: true})
	if err != nil {
		t.Fatal(err)
	}
	kgw.Attach(gw.Controller)
	gw.Alongside = append(gw.Alongside, kgw.Run)
	srv := gw.Server
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("gateway %s: %v", identity, err)
			}
		})
	}
	t.Cleanup(stop)
	return srv, stop
}

// loadService reads a GantryService manifest and makes its replicas run
// the gantry binary the test built.
func loadService(t *testing.T, path string) *unstructured.Unstructured {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := yaml.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: obj}
	setCommand(t, u)
	return u
}

// setCommand points every replica command that starts with "gantry" at
// the test's binary (the image's PATH on a real cluster).
func setCommand(t *testing.T, u *unstructured.Unstructured) {
	apps, _, _ := unstructured.NestedSlice(u.Object, "spec", "serveConfig", "applications")
	for _, a := range apps {
		for _, d := range a.(map[string]any)["deployments"].([]any) {
			r := d.(map[string]any)["replica"].(map[string]any)
			cmd := r["command"].([]any)
			if cmd[0] == "gantry" {
				cmd[0] = filepath.Join(binDir, "gantry")
			}
		}
	}
	if err := unstructured.SetNestedSlice(u.Object, apps, "spec", "serveConfig", "applications"); err != nil {
		t.Fatal(err)
	}
}

// newService builds a GantryService from a serveConfig written as YAML.
func newService(t *testing.T, name, serveConfig string) *unstructured.Unstructured {
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(serveConfig), &cfg); err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "gantry.dev/v1alpha1", "kind": "GantryService",
		"metadata": map[string]any{"name": name}, "spec": map[string]any{"serveConfig": cfg},
	}}
	setCommand(t, u)
	return u
}

func create(t *testing.T, ns string, u *unstructured.Unstructured) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := dynClient(t).Resource(kubernetes.GantryServices).Namespace(ns).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating GantryService %s: %v", u.GetName(), err)
	}
}

func get(t *testing.T, ns, name string) *unstructured.Unstructured {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u, err := dynClient(t).Resource(kubernetes.GantryServices).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("getting GantryService %s: %v", name, err)
	}
	return u
}

// update changes a GantryService's spec with edit, retrying on conflicts.
func update(t *testing.T, ns, name string, edit func(serveConfig map[string]any)) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		u := get(t, ns, name)
		cfg, _, _ := unstructured.NestedMap(u.Object, "spec", "serveConfig")
		edit(cfg)
		unstructured.SetNestedMap(u.Object, cfg, "spec", "serveConfig")
		_, err := dynClient(t).Resource(kubernetes.GantryServices).Namespace(ns).Update(ctx, u, metav1.UpdateOptions{})
		if err == nil {
			return
		}
		if !apierrors.IsConflict(err) {
			t.Fatalf("updating GantryService %s: %v", name, err)
		}
	}
}

// firstDeployment returns applications[0].deployments[0] of a serveConfig.
func firstDeployment(cfg map[string]any) map[string]any {
	return cfg["applications"].([]any)[0].(map[string]any)["deployments"].([]any)[0].(map[string]any)
}

// waitStatus waits until the service's status satisfies ok and returns it.
func waitStatus(t *testing.T, ns, name string, within time.Duration, what string, ok func(st status) bool) status {
	t.Helper()
	var last status
	if !testenv.Eventually(within, func() bool {
		last = statusOf(t, get(t, ns, name))
		return ok(last)
	}) {
		js, _ := json.MarshalIndent(last, "", "  ")
		t.Fatalf("GantryService %s: %s did not happen within %s; status:\n%s", name, what, within, js)
	}
	return last
}

// status is the part of a GantryService status the tests read.
type status struct {
	ServiceStatus      string `json:"serviceStatus"`
	NumServeEndpoints  int    `json:"numServeEndpoints"`
	ObservedGeneration int64  `json:"observedGeneration"`
	Applications       map[string]struct {
		Status      string `json:"status"`
		Message     string `json:"message"`
		Deployments map[string]struct {
			Status   string         `json:"status"`
			Message  string         `json:"message"`
			Replicas map[string]int `json:"replicas"`
		} `json:"deployments"`
	} `json:"applications"`
	Conditions []metav1.Condition `json:"conditions"`
}

func statusOf(t *testing.T, u *unstructured.Unstructured) status {
	var st status
	raw, _, _ := unstructured.NestedMap(u.Object, "status")
	js, _ := json.Marshal(raw)
	if err := json.Unmarshal(js, &st); err != nil {
		t.Fatalf("status of %s: %v\n%s", u.GetName(), err, js)
	}
	return st
}

func (st status) condition(typ string) metav1.Condition {
	for _, c := range st.Conditions {
		if c.Type == typ {
			return c
		}
	}
	return metav1.Condition{}
}

// running: Running with n endpoints, Ready at generation gen, no upgrade.
func running(n int, gen int64) func(status) bool {
	return func(st status) bool {
		ready, up := st.condition("Ready"), st.condition("UpgradeInProgress")
		return st.ServiceStatus == "Running" && st.NumServeEndpoints == n && st.ObservedGeneration == gen &&
			ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == gen &&
			up.Status == metav1.ConditionFalse && up.ObservedGeneration == gen
	}
}

// tpuPool adds a node pool of n KWOK nodes with chips TPU chips each and
// the GKE labels of accelerator and topology (a CPU pool when accelerator
// is ""), deleted when the test ends.
func tpuPool(t *testing.T, pool, accelerator, topology string, n, chips int) []string {
	e := env
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var labels map[string]string
	if accelerator != "" {
		labels = map[string]string{kubernetes.NodeLabelAccelerator: accelerator, kubernetes.NodeLabelTopology: topology}
	}
	nodes, err := e.AddNodePool(ctx, pool, n, chips, labels)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		e.DeleteNodePool(ctx, pool)
	})
	if err := e.WaitNodesReady(ctx, nodes...); err != nil {
		t.Fatal(err)
	}
	return nodes
}

// pods lists the namespace's Gantry pods.
func pods(t *testing.T, ns string) []corev1.Pod {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	l, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kubernetes.LabelManagedBy + "=" + kubernetes.ManagedBy})
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}

func podEnv(p corev1.Pod) map[string]string {
	out := map[string]string{}
	for _, e := range p.Spec.Containers[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			out[e.Name] = "fieldRef:" + e.ValueFrom.FieldRef.FieldPath
		} else {
			out[e.Name] = e.Value
		}
	}
	return out
}

// client sends test traffic; it only ever dials loopback.
var client = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
	DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("test traffic to %s refused: only 127.0.0.0/8", addr)
		}
		return (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, network, addr)
	},
}}

// imagine asks the painter for a small picture through a gateway.
func imagine(addr string) error {
	resp, err := client.Get("http://" + addr + "/imagine?prompt=a%20lighthouse&steps=1&width=64&height=64")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK || !bytes.HasPrefix(b, []byte("\x89PNG")) {
		return fmt.Errorf("GET /imagine: %s %q", resp.Status, truncate(b))
	}
	return nil
}

func truncate(b []byte) string {
	if len(b) > 200 {
		b = b[:200]
	}
	return strings.ToValidUTF8(string(b), "?")
}

// table lists GantryServices as kubectl get does: the API's Table form.
func table(t *testing.T, ns string) *metav1.Table {
	hc, err := rest.HTTPClientFor(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", strings.TrimRight(env.Config.Host, "/")+"/apis/gantry.dev/v1alpha1/namespaces/"+ns+"/gantryservices", nil)
	req.Header.Set("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io")
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tab metav1.Table
	if err := json.NewDecoder(resp.Body).Decode(&tab); err != nil || resp.StatusCode != 200 {
		t.Fatalf("table: %s %v", resp.Status, err)
	}
	return &tab
}

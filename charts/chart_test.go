package charts_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/internal/k8stest"
	"gantry.dev/gantry/internal/testenv"
)

var env *k8stest.Env

func TestMain(m *testing.M) { os.Exit(k8stest.Main(m, &env)) }

const release = "gantry"

// render runs `helm template` on charts/gantry with the extra helm arguments.
func render(t *testing.T, ns string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	argv := append([]string{"template", release, "gantry", "--namespace", ns, "--include-crds"}, args...)
	cmd := exec.Command(filepath.Join("..", "hack", "helm.sh"), argv...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("helm %s: %v\n%s", strings.Join(argv, " "), err, stderr.String())
	}
	// Unstructured's own JSON decoding keeps integers as int64, as client-go does.
	var objs []*unstructured.Unstructured
	r := utilyaml.NewYAMLReader(bufio.NewReader(&stdout))
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("reading helm's output: %v", err)
		}
		j, err := yaml.YAMLToJSON(doc)
		if err != nil {
			t.Fatalf("helm's output is not YAML: %v\n%s", err, doc)
		}
		if s := strings.TrimSpace(string(j)); s == "null" || s == "{}" {
			continue
		}
		u := &unstructured.Unstructured{}
		if err := u.UnmarshalJSON(j); err != nil {
			t.Fatalf("decoding %s: %v", doc, err)
		}
		objs = append(objs, u)
	}
	return objs
}

// applier applies objects with server-side apply, as `kubectl apply --server-side` does.
type applier struct {
	dyn    dynamic.Interface
	mapper *restmapper.DeferredDiscoveryRESTMapper
}

func newApplier(t *testing.T, e *k8stest.Env) *applier {
	t.Helper()
	dyn, err := dynamic.NewForConfig(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	dc, err := discovery.NewDiscoveryClientForConfig(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	return &applier{dyn: dyn, mapper: restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(dc))}
}

func (a *applier) apply(ctx context.Context, obj *unstructured.Unstructured, dryRun bool) error {
	gvk := obj.GroupVersionKind()
	mapping, err := a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		a.mapper.Reset()
		if mapping, err = a.mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
		}
	}
	body, err := obj.MarshalJSON()
	if err != nil {
		return err
	}
	opts := metav1.PatchOptions{FieldManager: "gantry-chart-test", Force: ptr(true)}
	if dryRun {
		opts.DryRun = []string{metav1.DryRunAll}
	}
	var ri dynamic.ResourceInterface = a.dyn.Resource(mapping.Resource)
	if mapping.Scope.Name() == "namespace" {
		ri = a.dyn.Resource(mapping.Resource).Namespace(obj.GetNamespace())
	}
	if _, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, body, opts); err != nil {
		return fmt.Errorf("%s %s: %w", gvk.Kind, obj.GetName(), err)
	}
	return nil
}

func ptr[T any](v T) *T { return &v }

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
var gsvcGVR = schema.GroupVersionResource{Group: "gantry.dev", Version: "v1alpha1", Resource: "gantryservices"}

// applyChart applies the CRD for real, waits until it is established, then applies every
// other object with dryRun=All, and returns the objects by kind/name.
func applyChart(t *testing.T, e *k8stest.Env, objs []*unstructured.Unstructured) map[string]*unstructured.Unstructured {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := newApplier(t, e)
	byName := map[string]*unstructured.Unstructured{}
	for _, o := range objs {
		byName[o.GetKind()+"/"+o.GetName()] = o
	}
	crd, ok := byName["CustomResourceDefinition/gantryservices.gantry.dev"]
	if !ok {
		t.Fatalf("helm template --include-crds has no CRD gantryservices.gantry.dev; got %v", keys(byName))
	}
	if err := a.apply(ctx, crd, false); err != nil {
		t.Fatalf("applying the CRD: %v", err)
	}
	if !testenv.Eventually(30*time.Second, func() bool { return established(ctx, a.dyn) }) {
		t.Fatal("CRD gantryservices.gantry.dev never became Established")
	}
	for _, o := range objs {
		if o == crd {
			continue
		}
		if err := a.apply(ctx, o, true); err != nil {
			t.Errorf("server-side dry run rejected it: %v", err)
		}
	}
	return byName
}

func established(ctx context.Context, dyn dynamic.Interface) bool {
	u, err := dyn.Resource(crdGVR).Get(ctx, "gantryservices.gantry.dev", metav1.GetOptions{})
	if err != nil {
		return false
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
			return true
		}
	}
	return false
}

func keys(m map[string]*unstructured.Unstructured) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestChartDefaultsAreAcceptedByTheAPIServer(t *testing.T) {
	t.Parallel()
	e := k8stest.Need(t, env)
	ns := e.Namespace(t)
	objs := applyChart(t, e, render(t, ns))
	for _, want := range []string{
		"ServiceAccount/gantry", "Role/gantry", "RoleBinding/gantry", "Secret/gantry-admin-token",
		"Deployment/gantry", "Service/gantry-serve", "Service/gantry-grpc", "Service/gantry-dashboard",
		"PodDisruptionBudget/gantry",
	} {
		if _, ok := objs[want]; !ok {
			t.Errorf("chart renders no %s; got %v", want, keys(objs))
		}
	}
	for name, port := range map[string]int64{"gantry-serve": 8000, "gantry-grpc": 9000, "gantry-dashboard": 8265} {
		svc, ok := objs["Service/"+name]
		if !ok {
			continue
		}
		ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
		if len(ports) != 1 || ports[0].(map[string]any)["port"] != port {
			t.Errorf("Service %s ports = %v, want one port %d", name, ports, port)
		}
	}
	if d, ok := objs["Deployment/gantry"]; ok {
		replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
		if replicas != 2 {
			t.Errorf("Deployment replicas = %d, want 2 by default", replicas)
		}
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		args, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
		if got := strings.Join(args, " "); !strings.HasPrefix(got, "serve --backend kubernetes --namespace $(POD_NAMESPACE)") {
			t.Errorf("gateway args = %q, want serve --backend kubernetes --namespace $(POD_NAMESPACE) ...", got)
		}
	}
}

func TestChartExampleValuesAreAcceptedByTheAPIServer(t *testing.T) {
	t.Parallel()
	e := k8stest.Need(t, env)
	ns := e.Namespace(t)
	objs := applyChart(t, e, render(t, ns, "-f", filepath.Join("gantry", "values-example.yaml")))
	if _, ok := objs["Secret/gantry-admin-token"]; ok {
		t.Error("with adminToken.existingSecret the chart still creates its own Secret")
	}
	d := objs["Deployment/gantry"]
	if d == nil {
		t.Fatalf("no Deployment; got %v", keys(objs))
	}
	replicas, _, _ := unstructured.NestedInt64(d.Object, "spec", "replicas")
	if replicas != 3 {
		t.Errorf("Deployment replicas = %d, want the example's 3", replicas)
	}
}

// TestGantryServiceCRDServesStatusAndColumns stores a GantryService in the CRD the chart
// installs, writes its status through the status subresource, and reads it back as the
// table `kubectl get gantryservices` prints.
func TestGantryServiceCRDServesStatusAndColumns(t *testing.T) {
	t.Parallel()
	e := k8stest.Need(t, env)
	ns := e.Namespace(t)
	applyChart(t, e, render(t, ns))
	ctx := context.Background()
	dyn, err := dynamic.NewForConfig(e.Config)
	if err != nil {
		t.Fatal(err)
	}
	var gs unstructured.Unstructured
	if err := yaml.Unmarshal([]byte(`
apiVersion: gantry.dev/v1alpha1
kind: GantryService
metadata:
  name: painter
spec:
  serveConfig:
    applications:
      - name: stable_diffusion
        route_prefix: /
        deployments:
          - name: painter
            num_replicas: 2
            replica: {command: [gantry, example, painter]}
`), &gs.Object); err != nil {
		t.Fatal(err)
	}
	created, err := dyn.Resource(gsvcGVR).Namespace(ns).Create(ctx, &gs, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("creating a GantryService: %v", err)
	}
	apps, _, _ := unstructured.NestedSlice(created.Object, "spec", "serveConfig", "applications")
	if len(apps) != 1 {
		t.Errorf("serveConfig.applications not kept as given: %v", apps)
	}

	status := map[string]any{
		"serviceStatus":      "Running",
		"numServeEndpoints":  int64(2),
		"observedGeneration": created.GetGeneration(),
		"applications": map[string]any{"stable_diffusion": map[string]any{
			"status": "RUNNING", "message": "",
			"deployments": map[string]any{"painter": map[string]any{
				"status": "HEALTHY", "message": "", "replicas": map[string]any{"RUNNING": int64(2)},
			}},
		}},
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "AllApplicationsRunning", "message": "",
			"observedGeneration": created.GetGeneration(), "lastTransitionTime": "2026-12-01T00:00:00Z",
		}},
	}
	created.Object["status"] = status
	if _, err := dyn.Resource(gsvcGVR).Namespace(ns).UpdateStatus(ctx, created, metav1.UpdateOptions{}); err != nil {
		t.Fatalf("writing status through the status subresource: %v", err)
	}

	raw, err := e.Client.Discovery().RESTClient().Get().
		AbsPath("/apis/gantry.dev/v1alpha1/namespaces", ns, "gantryservices").
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(ctx)
	if err != nil {
		t.Fatalf("listing as a table: %v", err)
	}
	var table metav1.Table
	if err := yaml.Unmarshal(raw, &table); err != nil {
		t.Fatal(err)
	}
	var cols []string
	for _, c := range table.ColumnDefinitions {
		cols = append(cols, strings.ToUpper(c.Name))
	}
	if got, want := strings.Join(cols, ","), "NAME,SERVICE STATUS,NUM SERVE ENDPOINTS,AGE"; got != want {
		t.Errorf("kubectl get columns = %s, want %s", got, want)
	}
	if len(table.Rows) != 1 || len(table.Rows[0].Cells) < 3 {
		t.Fatalf("table rows = %+v, want one GantryService", table.Rows)
	}
	if got := fmt.Sprint(table.Rows[0].Cells[:3]); got != "[painter Running 2]" {
		t.Errorf("row = %s, want [painter Running 2]", got)
	}

	// The short name works as kubectl would resolve it.
	rs, err := e.Client.Discovery().ServerResourcesForGroupVersion("gantry.dev/v1alpha1")
	if err != nil {
		t.Fatal(err)
	}
	var short []string
	for _, r := range rs.APIResources {
		if r.Name == "gantryservices" {
			short = r.ShortNames
		}
	}
	if fmt.Sprint(short) != "[gsvc]" {
		t.Errorf("short names = %v, want [gsvc]", short)
	}
}

// TestChartRoleIsLeastPrivilege applies the chart's ServiceAccount, Role and RoleBinding
// for real and asks the apiserver's RBAC authorizer what the gateway may do.
func TestChartRoleIsLeastPrivilege(t *testing.T) {
	t.Parallel()
	e := k8stest.Need(t, env)
	ns := e.Namespace(t)
	objs := applyChart(t, e, render(t, ns))
	ctx := context.Background()
	a := newApplier(t, e)
	for _, name := range []string{"ServiceAccount/gantry", "Role/gantry", "RoleBinding/gantry"} {
		if err := a.apply(ctx, objs[name], false); err != nil {
			t.Fatal(err)
		}
	}
	user := "system:serviceaccount:" + ns + ":gantry"
	type access struct{ group, resource, sub, verb, ns string }
	allowed := []access{
		{"gantry.dev", "gantryservices", "", "watch", ns},
		{"gantry.dev", "gantryservices", "status", "patch", ns},
		{"", "pods", "", "create", ns},
		{"", "pods", "", "delete", ns},
		{"", "pods", "", "watch", ns},
		{"", "pods", "log", "get", ns},
		{"", "services", "", "create", ns},
		{"coordination.k8s.io", "leases", "", "update", ns},
		{"", "events", "", "create", ns},
	}
	denied := []access{
		{"gantry.dev", "gantryservices", "", "delete", ns},
		{"gantry.dev", "gantryservices", "", "update", ns},
		{"", "secrets", "", "get", ns},
		{"", "pods", "exec", "create", ns},
		{"", "services", "", "delete", ns},
		{"", "pods", "", "create", "default"},
		{"rbac.authorization.k8s.io", "roles", "", "create", ns},
	}
	check := func(ac access) bool {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   user,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Namespace: ac.ns, Group: ac.group, Resource: ac.resource, Subresource: ac.sub, Verb: ac.verb,
			},
		}}
		got, err := e.Client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return got.Status.Allowed
	}
	for _, ac := range allowed {
		if !check(ac) {
			t.Errorf("gateway may not %s %s/%s %s in %s; it needs to", ac.verb, ac.group, ac.resource, ac.sub, ac.ns)
		}
	}
	for _, ac := range denied {
		if check(ac) {
			t.Errorf("gateway may %s %s/%s %s in %s; least privilege says no", ac.verb, ac.group, ac.resource, ac.sub, ac.ns)
		}
	}
}

// TestDryRunRejectsAnInvalidRender shows the dry run checks something: a Deployment with
// negative replicas renders, and the apiserver refuses it.
func TestDryRunRejectsAnInvalidRender(t *testing.T) {
	t.Parallel()
	e := k8stest.Need(t, env)
	ns := e.Namespace(t)
	a := newApplier(t, e)
	for _, o := range render(t, ns, "--set", "replicas=-1") {
		if o.GetKind() != "Deployment" {
			continue
		}
		err := a.apply(context.Background(), o, true)
		if err == nil || !strings.Contains(err.Error(), "replicas") {
			t.Fatalf("dry run of a Deployment with replicas -1: err = %v, want one naming spec.replicas", err)
		}
		return
	}
	t.Fatal("no Deployment rendered")
}

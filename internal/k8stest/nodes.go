package k8stest

import (
	"context"
	"fmt"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Node labels and the resource GKE uses for TPU node pools.
const (
	LabelNodePool                           = "cloud.google.com/gke-nodepool"
	LabelTPUAccelerator                     = "cloud.google.com/gke-tpu-accelerator"
	LabelTPUTopology                        = "cloud.google.com/gke-tpu-topology"
	ResourceTPU         corev1.ResourceName = "google.com/tpu"

	kwokAnnotation      = "kwok.x-k8s.io/node"
	kwokAnnotationValue = "fake"
)

// Capacity of every node AddNodePool creates (next to google.com/tpu): about a TPU v4 host.
const (
	nodeCPU    = "240"
	nodeMemory = "400Gi"
	nodePods   = "110"
)

// AddNodePool creates n KWOK nodes (annotation kwok.x-k8s.io/node=fake) labelled
// cloud.google.com/gke-nodepool=pool, plus the given labels, with capacity cpu/memory/pods
// and, when tpuChips > 0, google.com/tpu=<tpuChips>. For a TPU pool pass the labels
// cloud.google.com/gke-tpu-accelerator and cloud.google.com/gke-tpu-topology in labels
// (AddNodePool refuses a TPU pool without them). Nodes are named <pool>-<i>, numbering on
// from the pool's existing nodes, so calling it again grows the pool. It returns the new
// node names; KWOK marks them Ready within moments (WaitNodesReady waits for that).
func (e *Env) AddNodePool(ctx context.Context, pool string, n int, tpuChips int, labels map[string]string) ([]string, error) {
	if n < 1 {
		return nil, fmt.Errorf("AddNodePool %q: n must be >= 1, got %d", pool, n)
	}
	if tpuChips > 0 && (labels[LabelTPUAccelerator] == "" || labels[LabelTPUTopology] == "") {
		return nil, fmt.Errorf("AddNodePool %q: a TPU pool needs labels %s and %s", pool, LabelTPUAccelerator, LabelTPUTopology)
	}
	existing, err := e.Client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: LabelNodePool + "=" + pool})
	if err != nil {
		return nil, fmt.Errorf("AddNodePool %q: %w", pool, err)
	}
	first := len(existing.Items)
	var names []string
	for i := first; i < first+n; i++ {
		node := poolNode(pool+"-"+strconv.Itoa(i), pool, tpuChips, labels)
		if _, err := e.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return names, fmt.Errorf("AddNodePool %q: create node %s: %w", pool, node.Name, err)
		}
		names = append(names, node.Name)
	}
	return names, nil
}

func poolNode(name, pool string, tpuChips int, labels map[string]string) *corev1.Node {
	l := map[string]string{
		"kubernetes.io/hostname": name,
		"kubernetes.io/os":       "linux",
		"kubernetes.io/arch":     "amd64",
		"type":                   "kwok",
	}
	for k, v := range labels {
		l[k] = v
	}
	l[LabelNodePool] = pool
	capacity := corev1.ResourceList{
		corev1.ResourceCPU:    resource.MustParse(nodeCPU),
		corev1.ResourceMemory: resource.MustParse(nodeMemory),
		corev1.ResourcePods:   resource.MustParse(nodePods),
	}
	if tpuChips > 0 {
		capacity[ResourceTPU] = *resource.NewQuantity(int64(tpuChips), resource.DecimalSI)
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Labels:      l,
			Annotations: map[string]string{kwokAnnotation: kwokAnnotationValue},
		},
		Status: corev1.NodeStatus{
			Capacity:    capacity,
			Allocatable: capacity,
		},
	}
}

// DeleteNodePool deletes every node of pool. Pods bound to them stay bound (there is no
// node lifecycle controller); delete those first.
func (e *Env) DeleteNodePool(ctx context.Context, pool string) error {
	err := e.Client.CoreV1().Nodes().DeleteCollection(ctx, metav1.DeleteOptions{}, metav1.ListOptions{LabelSelector: LabelNodePool + "=" + pool})
	if err != nil {
		return fmt.Errorf("DeleteNodePool %q: %w", pool, err)
	}
	return nil
}

// WaitNodesReady waits until every named node reports Ready (KWOK sets it).
func (e *Env) WaitNodesReady(ctx context.Context, names ...string) error {
	for _, name := range names {
		if err := poll(ctx, func() (bool, error) {
			n, err := e.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, nil
			}
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		}); err != nil {
			return fmt.Errorf("node %s not Ready: %w", name, err)
		}
	}
	return nil
}

package kubernetes_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gantry.dev/gantry/deploy/kubernetes"
)

// A spec change that replaces the replicas (a new replica env: a new code
// version) on a worker group with no spare slice rolls in place, one slice
// at a time: requests keep being answered by the other replica (zero
// failures), and at no observation do pods hold more slices than the pool
// has.
//
// With a spare slice (3 slices, 2 replicas) the rollout surges instead,
// still within the pool.
func TestRolloutUnderTraffic(t *testing.T) {
	t.Run("in place, no spare slice", func(t *testing.T) { rollout(t, 2) })
	t.Run("surge onto a spare slice", func(t *testing.T) { rollout(t, 3) })
}

func rollout(t *testing.T, poolSlices int) {
	_, ns, _ := setup(t)
	for i := range poolSlices {
		tpuPool(t, "roll-"+strconv.Itoa(poolSlices)+"-"+strconv.Itoa(i), "tpu-v4-podslice", "2x2x1", 1, 4)
	}
	srv := startGateway(t, ns, "gw-0")
	svc := loadService(t, "../../examples/stable-diffusion/gantryservice.yaml")
	groups, _, _ := unstructured.NestedSlice(svc.Object, "spec", "serveConfig", "worker_groups")
	groups[0].(map[string]any)["replicas"] = int64(poolSlices)
	unstructured.SetNestedSlice(svc.Object, groups, "spec", "serveConfig", "worker_groups")
	create(t, ns, svc)
	waitStatus(t, ns, "stable-diffusion-tpu", 2*time.Minute, "Running with 2 endpoints", running(2, 1))
	before := versions(t, ns)
	if len(before) != 1 {
		t.Fatalf("versions before the change: %v", before)
	}

	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var ok, failed atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := imagine(srv.HTTPAddr()); err != nil {
					if ctx.Err() == nil {
						failed.Add(1)
						firstErr.CompareAndSwap(nil, err.Error())
					}
				} else {
					ok.Add(1)
				}
			}
		})
	}
	var maxSlices atomic.Int64
	wg.Go(func() {
		for ctx.Err() == nil {
			n := int64(slicesHeld(t, ns))
			if n > maxSlices.Load() {
				maxSlices.Store(n)
			}
		}
	})

	update(t, ns, "stable-diffusion-tpu", func(cfg map[string]any) {
		firstDeployment(cfg)["replica"].(map[string]any)["env"] = map[string]any{"PAINTER_ROLL": "2"}
	})
	waitStatus(t, ns, "stable-diffusion-tpu", 3*time.Minute, "rolled and Running with 2 endpoints", func(st status) bool {
		if !running(2, 2)(st) {
			return false
		}
		v := versions(t, ns)
		return len(v) == 1 && !v[firstKey(before)] && len(pods(t, ns)) == 2
	})
	stop()
	wg.Wait()
	t.Logf("during the rollout: %d requests answered, %d failed, at most %d slices held", ok.Load(), failed.Load(), maxSlices.Load())
	if failed.Load() != 0 {
		t.Errorf("%d requests failed during the rollout; the first: %v", failed.Load(), firstErr.Load())
	}
	if ok.Load() == 0 {
		t.Error("no request was answered during the rollout")
	}
	if maxSlices.Load() > int64(poolSlices) {
		t.Errorf("pods held %d slices at once; the pool has %d", maxSlices.Load(), poolSlices)
	}
	if poolSlices > 2 && maxSlices.Load() < 3 {
		t.Errorf("at most %d slices held: the rollout did not surge onto the spare slice", maxSlices.Load())
	}
}

// versions returns the code versions of the namespace's pods.
func versions(t *testing.T, ns string) map[string]bool {
	out := map[string]bool{}
	for _, p := range pods(t, ns) {
		out[p.Labels[kubernetes.LabelVersion]] = true
	}
	return out
}

func firstKey(m map[string]bool) string {
	for k := range m {
		return k
	}
	return ""
}

// slicesHeld counts the replicas whose pods exist (terminating ones too)
// and hold google.com/tpu: the slices in use.
func slicesHeld(t *testing.T, ns string) int {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	l, err := env.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: kubernetes.LabelManagedBy + "=" + kubernetes.ManagedBy})
	if err != nil {
		return 0
	}
	replicas := map[string]bool{}
	for _, p := range l.Items {
		if q := p.Spec.Containers[0].Resources.Requests[corev1.ResourceName(kubernetes.ResourceTPU)]; !q.IsZero() && p.Status.Phase != corev1.PodFailed {
			replicas[p.Labels[kubernetes.LabelReplica]] = true
		}
	}
	return len(replicas)
}

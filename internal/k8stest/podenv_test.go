package k8stest

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// These tests cover the env resolution alone (no control plane needed, so they always run);
// the Kubernetes tests in env_test.go exercise it on pods the real apiserver stored.

func TestExpandFollowsKubernetesRules(t *testing.T) {
	vals := map[string]string{"HOST": "127.64.0.3", "PORT": "8080", "EMPTY": ""}
	for _, tc := range []struct{ in, want string }{
		{"$(HOST):$(PORT)", "127.64.0.3:8080"},
		{"$(MISSING)", "$(MISSING)"},
		{"$$(HOST)", "$(HOST)"},
		{"a$$b", "a$b"},
		{"x$(EMPTY)y", "xy"},
		{"$(HOST", "$(HOST"},
		{"$", "$"},
		{"plain", "plain"},
	} {
		if got := expand(tc.in, vals); got != tc.want {
			t.Errorf("expand(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestContainerEnvResolvesDownwardAPI(t *testing.T) {
	cpu := resource.MustParse("1500m")
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "p-0", Namespace: "ns", UID: "u-1", Labels: map[string]string{"gantry.dev/replica": "r1"}},
		Spec:       corev1.PodSpec{NodeName: "pool-1", Hostname: "host-a"},
		Status:     corev1.PodStatus{PodIP: "127.64.0.9", HostIP: "127.63.0.1"},
	}
	c := &corev1.Container{
		Name: "replica",
		Env: []corev1.EnvVar{
			{Name: "GANTRY_HOST", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "status.podIP"}}},
			{Name: "PORT", Value: "8080"},
			{Name: "ADDR", Value: "$(GANTRY_HOST):$(PORT)"},
			{Name: "NODE", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
			{Name: "REPLICA", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.labels['gantry.dev/replica']"}}},
			{Name: "CPUS", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
		},
		Resources: corev1.ResourceRequirements{Limits: corev1.ResourceList{corev1.ResourceCPU: cpu}},
	}
	_, vals, err := containerEnv(context.Background(), nil, pod, c, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"GANTRY_HOST": "127.64.0.9", "ADDR": "127.64.0.9:8080", "NODE": "pool-1",
		"REPLICA": "r1", "CPUS": "2", "HOSTNAME": "host-a",
	}
	for k, v := range want {
		if vals[k] != v {
			t.Errorf("%s = %q, want %q", k, vals[k], v)
		}
	}

	c.Env = []corev1.EnvVar{{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.bogus"}}}}
	if _, _, err := containerEnv(context.Background(), nil, pod, c, t.TempDir()); err == nil {
		t.Error("an unknown fieldRef was accepted")
	}
}

package k8stest

import (
	"context"
	"fmt"
	"math"
	"os"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// containerEnv returns the environment a kubelet would give container c of pod, as
// KEY=value lines (and as a map, to expand command and args): HOSTNAME, then envFrom and env in order with $(VAR) references expanded
// against what came before, downward-API fieldRefs and resourceFieldRefs resolved, and
// configMap/secret keys read from the apiserver. PATH comes from the test's environment
// unless the container sets it; HOME and TMPDIR point into the pod's work directory.
// Kubernetes' service-link variables (KUBERNETES_SERVICE_HOST, ...) are not set.
func containerEnv(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, c *corev1.Container, workDir string) ([]string, map[string]string, error) {
	var keys []string
	vals := map[string]string{}
	set := func(k, v string) {
		if _, ok := vals[k]; !ok {
			keys = append(keys, k)
		}
		vals[k] = v
	}
	set("PATH", os.Getenv("PATH"))
	set("HOME", workDir)
	set("TMPDIR", workDir)
	hostname := pod.Name
	if pod.Spec.Hostname != "" {
		hostname = pod.Spec.Hostname
	}
	set("HOSTNAME", hostname)

	for i, from := range c.EnvFrom {
		data, err := envFromData(ctx, client, pod.Namespace, from)
		if err != nil {
			return nil, nil, fmt.Errorf("containers[%s].envFrom[%d]: %w", c.Name, i, err)
		}
		for k, v := range data {
			set(from.Prefix+k, v)
		}
	}
	for _, ev := range c.Env {
		if ev.ValueFrom == nil {
			set(ev.Name, expand(ev.Value, vals))
			continue
		}
		v, err := envSource(ctx, client, pod, c, ev.ValueFrom)
		if err != nil {
			return nil, nil, fmt.Errorf("containers[%s].env[%s]: %w", c.Name, ev.Name, err)
		}
		set(ev.Name, v)
	}
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+vals[k])
	}
	return out, vals, nil
}

// envSource resolves one valueFrom.
func envSource(ctx context.Context, client kubernetes.Interface, pod *corev1.Pod, c *corev1.Container, src *corev1.EnvVarSource) (string, error) {
	switch {
	case src.FieldRef != nil:
		return podField(pod, src.FieldRef.FieldPath)
	case src.ResourceFieldRef != nil:
		return resourceField(c, src.ResourceFieldRef)
	case src.ConfigMapKeyRef != nil:
		ref := src.ConfigMapKeyRef
		cm, err := client.CoreV1().ConfigMaps(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return optional(ref.Optional, fmt.Errorf("configMapKeyRef %s: %w", ref.Name, err))
		}
		v, ok := cm.Data[ref.Key]
		if !ok {
			return optional(ref.Optional, fmt.Errorf("configMapKeyRef %s has no key %q", ref.Name, ref.Key))
		}
		return v, nil
	case src.SecretKeyRef != nil:
		ref := src.SecretKeyRef
		s, err := client.CoreV1().Secrets(pod.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
		if err != nil {
			return optional(ref.Optional, fmt.Errorf("secretKeyRef %s: %w", ref.Name, err))
		}
		v, ok := s.Data[ref.Key]
		if !ok {
			return optional(ref.Optional, fmt.Errorf("secretKeyRef %s has no key %q", ref.Name, ref.Key))
		}
		return string(v), nil
	}
	return "", fmt.Errorf("valueFrom: no source the harness supports (fieldRef, resourceFieldRef, configMapKeyRef, secretKeyRef)")
}

func optional(opt *bool, err error) (string, error) {
	if opt != nil && *opt {
		return "", nil
	}
	return "", err
}

// envFromData reads the ConfigMap or Secret an envFrom entry names.
func envFromData(ctx context.Context, client kubernetes.Interface, ns string, from corev1.EnvFromSource) (map[string]string, error) {
	switch {
	case from.ConfigMapRef != nil:
		cm, err := client.CoreV1().ConfigMaps(ns).Get(ctx, from.ConfigMapRef.Name, metav1.GetOptions{})
		if err != nil {
			_, err = optional(from.ConfigMapRef.Optional, fmt.Errorf("configMapRef %s: %w", from.ConfigMapRef.Name, err))
			return nil, err
		}
		return cm.Data, nil
	case from.SecretRef != nil:
		s, err := client.CoreV1().Secrets(ns).Get(ctx, from.SecretRef.Name, metav1.GetOptions{})
		if err != nil {
			_, err = optional(from.SecretRef.Optional, fmt.Errorf("secretRef %s: %w", from.SecretRef.Name, err))
			return nil, err
		}
		data := map[string]string{}
		for k, v := range s.Data {
			data[k] = string(v)
		}
		return data, nil
	}
	return nil, nil
}

// podField resolves a downward-API fieldRef path.
func podField(pod *corev1.Pod, path string) (string, error) {
	switch path {
	case "metadata.name":
		return pod.Name, nil
	case "metadata.namespace":
		return pod.Namespace, nil
	case "metadata.uid":
		return string(pod.UID), nil
	case "spec.nodeName":
		return pod.Spec.NodeName, nil
	case "spec.serviceAccountName":
		return pod.Spec.ServiceAccountName, nil
	case "status.podIP":
		return pod.Status.PodIP, nil
	case "status.hostIP":
		return pod.Status.HostIP, nil
	case "status.podIPs":
		ips := make([]string, 0, len(pod.Status.PodIPs))
		for _, ip := range pod.Status.PodIPs {
			ips = append(ips, ip.IP)
		}
		return strings.Join(ips, ","), nil
	case "status.hostIPs":
		ips := make([]string, 0, len(pod.Status.HostIPs))
		for _, ip := range pod.Status.HostIPs {
			ips = append(ips, ip.IP)
		}
		return strings.Join(ips, ","), nil
	}
	for prefix, m := range map[string]map[string]string{"metadata.labels": pod.Labels, "metadata.annotations": pod.Annotations} {
		if strings.HasPrefix(path, prefix+"['") && strings.HasSuffix(path, "']") {
			return m[path[len(prefix)+2:len(path)-2]], nil
		}
	}
	return "", fmt.Errorf("fieldRef %q: not a field the downward API offers", path)
}

// resourceField resolves a resourceFieldRef (limits.cpu, requests.memory, ...) as the
// kubelet does: the quantity divided by the divisor (default 1), rounded up.
func resourceField(c *corev1.Container, ref *corev1.ResourceFieldSelector) (string, error) {
	kind, name, ok := strings.Cut(ref.Resource, ".")
	if !ok {
		return "", fmt.Errorf("resourceFieldRef %q: want limits.NAME or requests.NAME", ref.Resource)
	}
	var list corev1.ResourceList
	switch kind {
	case "limits":
		list = c.Resources.Limits
	case "requests":
		list = c.Resources.Requests
	default:
		return "", fmt.Errorf("resourceFieldRef %q: want limits.NAME or requests.NAME", ref.Resource)
	}
	q, ok := list[corev1.ResourceName(name)]
	if !ok {
		return "0", nil
	}
	divisor := resource.MustParse("1")
	if !ref.Divisor.IsZero() {
		divisor = ref.Divisor
	}
	return fmt.Sprint(int64(math.Ceil(q.AsApproximateFloat64() / divisor.AsApproximateFloat64()))), nil
}

// expand replaces $(NAME) with vals[NAME] where NAME is defined, leaves undefined
// references as they are, and turns $$ into $ — Kubernetes' rules for env, command and args.
func expand(s string, vals map[string]string) string {
	if !strings.Contains(s, "$") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '$' && i+1 < len(s) {
			switch s[i+1] {
			case '$':
				b.WriteByte('$')
				i++
				continue
			case '(':
				if j := strings.IndexByte(s[i+2:], ')'); j >= 0 {
					if v, ok := vals[s[i+2:i+2+j]]; ok {
						b.WriteString(v)
					} else {
						b.WriteString(s[i : i+3+j])
					}
					i += 2 + j
					continue
				}
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

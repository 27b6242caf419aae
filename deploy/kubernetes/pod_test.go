package kubernetes

import (
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
)

// tpuSpec is the spec the controller hands the backend for slice slice of a
// tpu-v4-podslice group of the given topology, 4 chips per host.
func tpuSpec(topology string, slice int) deploy.ReplicaSpec {
	g := &config.WorkerGroup{Name: "tpu-group", Accelerator: "tpu-v4-podslice", Topology: topology, ChipsPerHost: 4, Replicas: 2}
	return deploy.ReplicaSpec{
		ID: "stable_diffusion#painter#a1b2c3d4", Application: "stable_diffusion", Deployment: "painter",
		Command: []string{"gantry", "example", "painter"}, Image: "ghcr.io/gantry-dev/painter:latest",
		Env: map[string]string{"A": "1"}, UserConfig: []byte(`{"default_steps":30}`), Version: "0123456789abcdef",
		Hosts: g.Hosts(), Group: g, Slice: slice, Grace: 20 * time.Second,
		Resources: &config.RayActorOptions{Resources: map[string]float64{"TPU": float64(g.Chips())}},
	}
}

func envOf(p *corev1.Pod) map[string]string {
	out := map[string]string{}
	for _, e := range p.Spec.Containers[0].Env {
		if e.ValueFrom != nil {
			out[e.Name] = "fieldRef:" + e.ValueFrom.FieldRef.FieldPath
		} else {
			out[e.Name] = e.Value
		}
	}
	return out
}

// The pods of a replica get what KubeRay's TPU webhook injects (mutatePod):
// for group "tpu-group", replica (slice) 1 of a 2x2x2 v4 slice, 2 hosts:
// hostnames tpu-group-1-0 and -1, subdomain <service>-headless,
// TPU_WORKER_HOSTNAMES listing both in the headless domain, TPU_WORKER_ID =
// host, TPU_NAME tpu-group-1, replicaIndex label tpu-group-1. A 2x2x1 slice
// (one host) gets TPU_WORKER_ID 0 and TPU_NAME but no hostnames.
func TestPodsMatchKubeRayTPUWebhook(t *testing.T) {
	owner := Owner{Name: "stable-diffusion-tpu", UID: "uid-1"}
	for _, tc := range []struct {
		topology  string
		hosts     int
		hostnames string
	}{
		{"2x2x1", 1, ""},
		{"2x2x2", 2, "tpu-group-1-0.stable-diffusion-tpu-headless,tpu-group-1-1.stable-diffusion-tpu-headless"},
	} {
		spec := tpuSpec(tc.topology, 1)
		if spec.Hosts != tc.hosts {
			t.Fatalf("%s: %d hosts, want %d", tc.topology, spec.Hosts, tc.hosts)
		}
		for h := range tc.hosts {
			p, err := podFor(spec, h, owner, DefaultPort)
			if err != nil {
				t.Fatal(err)
			}
			name := tc.topology + " host " + strconv.Itoa(h)
			env := envOf(p)
			want := map[string]string{
				"TPU_WORKER_ID": strconv.Itoa(h), "TPU_NAME": "tpu-group-1", "GANTRY_REPLICA_INDEX": "1",
				"PORT": "8080", "GANTRY_HOST": "fieldRef:status.podIP", "GANTRY_REPLICA_ID": spec.ID,
				"GANTRY_APPLICATION": "stable_diffusion", "GANTRY_DEPLOYMENT": "painter",
				"GANTRY_USER_CONFIG": `{"default_steps":30}`, "A": "1", "GANTRY_HOST_INDEX": strconv.Itoa(h),
			}
			if tc.hostnames != "" {
				want["TPU_WORKER_HOSTNAMES"] = tc.hostnames
			}
			for k, v := range want {
				if env[k] != v {
					t.Errorf("%s: env %s = %q, want %q", name, k, env[k], v)
				}
			}
			if _, ok := env["TPU_WORKER_HOSTNAMES"]; ok && tc.hostnames == "" {
				t.Errorf("%s: single-host pod has TPU_WORKER_HOSTNAMES (the webhook sets it for multi-host only)", name)
			}
			wantHost, wantSub := "", ""
			if tc.hosts > 1 {
				wantHost, wantSub = "tpu-group-1-"+strconv.Itoa(h), "stable-diffusion-tpu-headless"
			}
			if p.Spec.Hostname != wantHost || p.Spec.Subdomain != wantSub {
				t.Errorf("%s: hostname %q subdomain %q, want %q %q", name, p.Spec.Hostname, p.Spec.Subdomain, wantHost, wantSub)
			}
			if got := p.Spec.NodeSelector; got[NodeLabelAccelerator] != "tpu-v4-podslice" || got[NodeLabelTopology] != tc.topology || len(got) != 2 {
				t.Errorf("%s: nodeSelector %v", name, got)
			}
			if tol := p.Spec.Tolerations; len(tol) != 1 || tol[0].Key != ResourceTPU || tol[0].Effect != corev1.TaintEffectNoSchedule {
				t.Errorf("%s: tolerations %+v, want one for GKE's google.com/tpu NoSchedule taint", name, tol)
			}
			res := p.Spec.Containers[0].Resources
			if r, l := res.Requests[ResourceTPU], res.Limits[ResourceTPU]; r.Value() != 4 || l.Value() != 4 {
				t.Errorf("%s: google.com/tpu requests %s limits %s, want 4 and 4 (chips per host)", name, r.String(), l.String())
			}
			aff := p.Spec.Affinity
			if aff == nil || len(aff.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 ||
				len(aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution) != 1 {
				t.Fatalf("%s: affinity %+v", name, aff)
			}
			in := aff.PodAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
			out := aff.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution[0]
			if in.TopologyKey != NodeLabelNodePool || out.TopologyKey != NodeLabelNodePool {
				t.Errorf("%s: topology keys %q %q, want %s", name, in.TopologyKey, out.TopologyKey, NodeLabelNodePool)
			}
			if in.LabelSelector.MatchLabels[LabelReplica] != p.Labels[LabelReplica] {
				t.Errorf("%s: podAffinity %v does not select the replica's own pods (%s)", name, in.LabelSelector, p.Labels[LabelReplica])
			}
			if p.Labels[LabelReplicaIndex] != "tpu-group-1" || p.Labels[LabelGroupIndex] != strconv.Itoa(h) ||
				p.Labels[LabelService] != owner.Name || p.Labels[LabelVersion] != spec.Version ||
				p.Labels[LabelApplication] != "stable_diffusion" || p.Labels[LabelDeployment] != "painter" {
				t.Errorf("%s: labels %v", name, p.Labels)
			}
			if len(p.OwnerReferences) != 1 || p.OwnerReferences[0].Kind != "GantryService" || p.OwnerReferences[0].UID != owner.UID {
				t.Errorf("%s: ownerReferences %+v", name, p.OwnerReferences)
			}
			if c := p.Spec.Containers[0]; c.Name != ContainerName || strings.Join(c.Command, " ") != "gantry example painter" || c.Image != spec.Image {
				t.Errorf("%s: container %s %q %s", name, c.Name, c.Command, c.Image)
			}
		}
	}
}

func TestPodResourcesAndErrors(t *testing.T) {
	cpus, mem, gpus := 1.5, float64(2<<30), 1.0
	spec := deploy.ReplicaSpec{ID: "a#d#x", Application: "a", Deployment: "d", Command: []string{"/bin/replica"}, Image: "img",
		Resources: &config.RayActorOptions{NumCPUs: &cpus, Memory: &mem, NumGPUs: &gpus}, Slice: -1}
	p, err := podFor(spec, 0, Owner{}, DefaultPort)
	if err != nil {
		t.Fatal(err)
	}
	res := p.Spec.Containers[0].Resources
	if c := res.Requests[corev1.ResourceCPU]; c.MilliValue() != 1500 {
		t.Errorf("cpu request %s, want 1500m", c.String())
	}
	if m := res.Requests[corev1.ResourceMemory]; m.Value() != 2<<30 {
		t.Errorf("memory request %s, want 2Gi", m.String())
	}
	if r, l := res.Requests[ResourceGPU], res.Limits[ResourceGPU]; r.Value() != 1 || l.Value() != 1 {
		t.Errorf("nvidia.com/gpu %s/%s, want 1/1", r.String(), l.String())
	}
	if p.Spec.NodeSelector != nil || p.Spec.Affinity != nil || p.OwnerReferences != nil || p.Labels[LabelReplicaIndex] != "" {
		t.Errorf("a replica without TPU got TPU placement or an owner: %+v", p.Spec)
	}
	spec.Image = ""
	if _, err := podFor(spec, 0, Owner{}, DefaultPort); err == nil || !strings.Contains(err.Error(), "replica.image") {
		t.Errorf("no image: %v, want an error naming replica.image", err)
	}
	half := 0.5
	spec.Image, spec.Resources.NumGPUs = "img", &half
	if _, err := podFor(spec, 0, Owner{}, DefaultPort); err == nil || !strings.Contains(err.Error(), "num_gpus") {
		t.Errorf("half a GPU: %v, want an error naming num_gpus", err)
	}
}

func TestNames(t *testing.T) {
	for in, want := range map[string]string{"stable_diffusion": "stable_diffusion", "a#b#c": "a.b.c-"} {
		if got := labelValue(in); !strings.HasPrefix(got, want) || len(got) > 63 {
			t.Errorf("labelValue(%q) = %q, want prefix %q", in, got, want)
		}
	}
	long := strings.Repeat("x", 100)
	if got := labelValue(long); len(got) > 63 || got == labelValue(long+"y") {
		t.Errorf("labelValue of long values: %q", got)
	}
	if got := dnsLabel("Stable_Diffusion", 63); got != "stable-diffusion-"+got[len("stable-diffusion-"):] || len(got) > 63 {
		t.Errorf("dnsLabel = %q", got)
	}
}

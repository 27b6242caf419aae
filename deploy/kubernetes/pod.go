package kubernetes

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/replica"
)

// Owner is the GantryService a replica's pods belong to.
type Owner struct {
	Name string
	UID  types.UID
}

// gantryServiceKind and apiVersion name the owner in ownerReferences.
const (
	gantryServiceKind = "GantryService"
	apiVersion        = Group + "/" + Version
)

// podFor returns the pod of member host of the replica spec describes, owned
// by owner (no ownerReference when owner.UID is empty).
func podFor(spec deploy.ReplicaSpec, host int, owner Owner, port int) (*corev1.Pod, error) {
	if spec.Image == "" {
		return nil, fmt.Errorf("deployment %s of application %s has no replica.image: the Kubernetes backend runs replicas as containers",
			spec.Deployment, spec.Application)
	}
	if len(spec.Command) == 0 {
		return nil, fmt.Errorf("replica %s: command is empty", spec.ID)
	}
	resources, err := podResources(spec)
	if err != nil {
		return nil, err
	}
	replicaLabel := labelValue(strings.ReplaceAll(spec.ID, "#", "."))
	labels := map[string]string{
		LabelManagedBy:   ManagedBy,
		LabelService:     labelValue(owner.Name),
		LabelApplication: labelValue(spec.Application),
		LabelDeployment:  labelValue(spec.Deployment),
		LabelReplica:     replicaLabel,
		LabelVersion:     labelValue(spec.Version),
		LabelGroupIndex:  strconv.Itoa(host),
	}
	annotations := map[string]string{
		AnnotationReplicaID:   spec.ID,
		AnnotationApplication: spec.Application,
		AnnotationDeployment:  spec.Deployment,
	}
	suffix := spec.ID[strings.LastIndex(spec.ID, "#")+1:]
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Name:        dnsLabel(spec.Application+"-"+spec.Deployment, 40) + "-" + dnsLabel(suffix, 12) + "-" + strconv.Itoa(host),
			Labels:      labels,
			Annotations: annotations,
		},
		Spec: corev1.PodSpec{
			RestartPolicy:                 corev1.RestartPolicyNever,
			TerminationGracePeriodSeconds: ptr(int64(math.Ceil(spec.Grace.Seconds()))),
			EnableServiceLinks:            ptr(false),
			Containers: []corev1.Container{{
				Name:       ContainerName,
				Image:      spec.Image,
				Command:    slices.Clone(spec.Command),
				WorkingDir: spec.WorkingDir,
				Env:        podEnv(spec, host, owner, port),
				Ports:      []corev1.ContainerPort{{Name: "http", ContainerPort: int32(port), Protocol: corev1.ProtocolTCP}},
				Resources:  resources,
			}},
		},
	}
	if owner.UID != "" {
		pod.OwnerReferences = []metav1.OwnerReference{{
			APIVersion: apiVersion, Kind: gantryServiceKind, Name: owner.Name, UID: owner.UID,
			Controller: ptr(true), BlockOwnerDeletion: ptr(true),
		}}
	}
	if g := spec.Group; g != nil {
		tpuPlacement(pod, spec, host, owner, replicaLabel)
	}
	return pod, nil
}

// tpuPlacement pins the pod to a node of its worker group's node pools the
// way KubeRay's TPU webhook does: nodeSelector on accelerator and topology,
// all hosts of a slice in one node pool (required podAffinity), one slice per
// node pool (required podAntiAffinity against other replicas), and for
// multi-host slices hostname <group>-<slice>-<host> in the subdomain of the
// headless Service, so TPU_WORKER_HOSTNAMES resolve.
func tpuPlacement(pod *corev1.Pod, spec deploy.ReplicaSpec, host int, owner Owner, replicaLabel string) {
	g := spec.Group
	pod.Labels[LabelWorkerGroup] = labelValue(g.Name)
	pod.Labels[LabelReplicaIndex] = labelValue(deploy.TPUName(g.Name, spec.Slice))
	pod.Annotations[AnnotationSlice] = strconv.Itoa(spec.Slice)
	// GKE taints TPU nodes google.com/tpu=present:NoSchedule (its
	// ExtendedResourceToleration admission adds this too; say it anyway).
	pod.Spec.Tolerations = append(pod.Spec.Tolerations, corev1.Toleration{
		Key: ResourceTPU, Operator: corev1.TolerationOpExists, Effect: corev1.TaintEffectNoSchedule})
	pod.Spec.NodeSelector = map[string]string{
		NodeLabelAccelerator: g.Accelerator,
		NodeLabelTopology:    g.Topology,
	}
	pod.Spec.Affinity = &corev1.Affinity{
		PodAffinity: &corev1.PodAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchLabels: map[string]string{LabelReplica: replicaLabel}},
			TopologyKey:   NodeLabelNodePool,
		}}},
		PodAntiAffinity: &corev1.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []corev1.PodAffinityTerm{{
			LabelSelector: &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{
				{Key: LabelReplicaIndex, Operator: metav1.LabelSelectorOpExists},
				{Key: LabelReplica, Operator: metav1.LabelSelectorOpNotIn, Values: []string{replicaLabel}},
			}},
			TopologyKey: NodeLabelNodePool,
		}}},
	}
	if max(spec.Hosts, 1) > 1 {
		pod.Spec.Hostname = deploy.TPUHostname(g.Name, spec.Slice, host)
		pod.Spec.Subdomain = headlessName(owner.Name)
	}
}

// podEnv is the container's environment: the replica's env, its member's
// TPU variables (with hostnames in the headless Service's domain), the
// replica protocol's variables, and GANTRY_HOST from the pod IP.
func podEnv(spec deploy.ReplicaSpec, host int, owner Owner, port int) []corev1.EnvVar {
	vars := maps.Clone(spec.Env)
	if vars == nil {
		vars = map[string]string{}
	}
	if g := spec.Group; g != nil {
		maps.Copy(vars, deploy.TPUEnvWithDomain(g.Name, spec.Slice, spec.Hosts, headlessName(owner.Name))[host])
	} else if host < len(spec.MemberEnv) {
		maps.Copy(vars, spec.MemberEnv[host])
	}
	userConfig := "null"
	if len(spec.UserConfig) > 0 {
		userConfig = string(spec.UserConfig)
	}
	vars[replica.EnvPort] = strconv.Itoa(port)
	vars[replica.EnvReplicaID] = spec.ID
	vars[replica.EnvDeployment] = spec.Deployment
	vars[replica.EnvApplication] = spec.Application
	vars[replica.EnvUserConfig] = userConfig
	vars["GANTRY_HOST_INDEX"] = strconv.Itoa(host)
	delete(vars, EnvHost)
	env := make([]corev1.EnvVar, 0, len(vars)+1)
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		env = append(env, corev1.EnvVar{Name: k, Value: vars[k]})
	}
	return append(env, corev1.EnvVar{Name: EnvHost, ValueFrom: &corev1.EnvVarSource{
		FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"},
	}})
}

// podResources maps ray_actor_options to the container's resources:
// num_cpus → cpu, memory (bytes) → memory, num_gpus → nvidia.com/gpu, and
// on a TPU slice the chips of one host → google.com/tpu. Extended resources
// (GPU, TPU) have limits equal to requests, as Kubernetes requires.
func podResources(spec deploy.ReplicaSpec) (corev1.ResourceRequirements, error) {
	req := corev1.ResourceList{}
	lim := corev1.ResourceList{}
	if o := spec.Resources; o != nil {
		if o.NumCPUs != nil && *o.NumCPUs > 0 {
			req[corev1.ResourceCPU] = *resource.NewMilliQuantity(int64(math.Ceil(*o.NumCPUs*1000)), resource.DecimalSI)
		}
		if o.Memory != nil && *o.Memory > 0 {
			req[corev1.ResourceMemory] = *resource.NewQuantity(int64(math.Ceil(*o.Memory)), resource.BinarySI)
		}
		if o.NumGPUs != nil && *o.NumGPUs > 0 {
			if *o.NumGPUs != math.Trunc(*o.NumGPUs) {
				return corev1.ResourceRequirements{}, fmt.Errorf("deployment %s: ray_actor_options.num_gpus is %g; "+
					"on Kubernetes a replica takes whole GPUs (nvidia.com/gpu), so it must be a whole number", spec.Deployment, *o.NumGPUs)
			}
			q := *resource.NewQuantity(int64(*o.NumGPUs), resource.DecimalSI)
			req[ResourceGPU], lim[ResourceGPU] = q, q
		}
	}
	if g := spec.Group; g != nil {
		q := *resource.NewQuantity(int64(g.ChipsPerHost), resource.DecimalSI)
		req[ResourceTPU], lim[ResourceTPU] = q, q
	}
	r := corev1.ResourceRequirements{}
	if len(req) > 0 {
		r.Requests = req
	}
	if len(lim) > 0 {
		r.Limits = lim
	}
	return r, nil
}

func ptr[T any](v T) *T { return &v }

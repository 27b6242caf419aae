package deploy

import (
	"strconv"
	"strings"
)

// The environment every member of a replica placed on a TPU slice gets: the
// variables KubeRay's TPU webhook (ai-on-gke/kuberay-tpu-webhook, mutatePod)
// injects into TPU pods, plus Gantry's GANTRY_REPLICA_INDEX.
const (
	// EnvTPUWorkerID is the member's host index within its slice (0..hosts-1).
	EnvTPUWorkerID = "TPU_WORKER_ID"
	// EnvTPUWorkerHostnames is the comma-separated hostnames of every host of
	// the slice, in host order; multi-host slices only.
	EnvTPUWorkerHostnames = "TPU_WORKER_HOSTNAMES"
	// EnvTPUName is <group>-<slice>.
	EnvTPUName = "TPU_NAME"
	// EnvReplicaIndex is the slice's index in its worker group (KubeRay's
	// replicaIndex; on Kubernetes also the pod label replicaIndex).
	EnvReplicaIndex = "GANTRY_REPLICA_INDEX"
)

// TPUName is the name of slice slice of worker group group: "<group>-<slice>",
// the webhook's TPU_NAME and its replicaIndex label value. It depends only on
// the slice index, so a replica restarted on the same slice keeps it.
func TPUName(group string, slice int) string {
	return group + "-" + strconv.Itoa(slice)
}

// TPUHostname is the hostname of host host of a slice: "<group>-<slice>-<host>",
// the webhook's pod spec.hostname.
func TPUHostname(group string, slice, host int) string {
	return TPUName(group, slice) + "-" + strconv.Itoa(host)
}

// TPUEnv returns the TPU environment of each member of a replica placed on
// slice slice of worker group group, whose slices have hosts hosts: one map
// per member, member i being host i (and TPU_WORKER_ID i). Hostnames are
// bare ("tpu-1-0"), as on the local backend, which maps them to the members'
// 127.0.0.1 ports in GANTRY_HOSTS. See TPUEnvWithDomain.
func TPUEnv(group string, slice, hosts int) []map[string]string {
	return TPUEnvWithDomain(group, slice, hosts, "")
}

// TPUEnvWithDomain is TPUEnv with every hostname in TPU_WORKER_HOSTNAMES
// followed by "."+domain when domain is not empty. On Kubernetes domain is
// the headless Service the pods are a subdomain of (KubeRay's
// "<cluster>-headless"), giving names like "tpu-1-0.rc-headless" with no
// namespace or svc suffix, exactly as the webhook's genDNSHostnames does.
//
// The rules are the webhook's:
//   - TPU_WORKER_ID = host index; TPU_NAME = <group>-<slice>;
//     GANTRY_REPLICA_INDEX = slice (Gantry's; the webhook puts the replica
//     index in a pod label instead).
//   - TPU_WORKER_HOSTNAMES only when the slice has more than one host. The
//     webhook injects it (and sets the pod's hostname and subdomain) only
//     when numOfHosts > 1; a single-host pod gets TPU_WORKER_ID=0 and
//     TPU_NAME but no TPU_WORKER_HOSTNAMES. Gantry does the same, so a
//     program sees exactly the variables it would see under KubeRay, and a
//     single-host replica gets no peer list it has no use for (the local
//     backend sets GANTRY_HOSTS for multi-host replicas only, too).
//
// hosts below 1 counts as 1, as in the webhook (max(chips/chipsPerHost, 1)).
// The result always has max(hosts, 1) entries, fresh maps the caller may
// modify.
func TPUEnvWithDomain(group string, slice, hosts int, domain string) []map[string]string {
	hosts = max(hosts, 1)
	name := TPUName(group, slice)
	var hostnames string
	if hosts > 1 {
		names := make([]string, hosts)
		for h := range names {
			names[h] = TPUHostname(group, slice, h)
			if domain != "" {
				names[h] += "." + domain
			}
		}
		hostnames = strings.Join(names, ",")
	}
	out := make([]map[string]string, hosts)
	for h := range out {
		env := map[string]string{
			EnvTPUWorkerID:  strconv.Itoa(h),
			EnvTPUName:      name,
			EnvReplicaIndex: strconv.Itoa(slice),
		}
		if hostnames != "" {
			env[EnvTPUWorkerHostnames] = hostnames
		}
		out[h] = env
	}
	return out
}

package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Labels and annotations on the pods Backend creates.
const (
	LabelManagedBy   = "app.kubernetes.io/managed-by"
	ManagedBy        = "gantry"
	LabelService     = "gantry.dev/service"
	LabelApplication = "gantry.dev/application"
	LabelDeployment  = "gantry.dev/deployment"
	LabelReplica     = "gantry.dev/replica"
	LabelVersion     = "gantry.dev/version"
	LabelGroupIndex  = "gantry.dev/group-index"
	LabelWorkerGroup = "gantry.dev/worker-group"
	// LabelReplicaIndex is KubeRay's webhook label: <group>-<slice>.
	LabelReplicaIndex = "replicaIndex"

	// The exact names, which labels may have had to shorten or change.
	AnnotationReplicaID   = "gantry.dev/replica-id"
	AnnotationApplication = "gantry.dev/application"
	AnnotationDeployment  = "gantry.dev/deployment"
	AnnotationSlice       = "gantry.dev/slice"

	// GKE's node labels and extended resources.
	NodeLabelAccelerator = "cloud.google.com/gke-tpu-accelerator"
	NodeLabelTopology    = "cloud.google.com/gke-tpu-topology"
	NodeLabelNodePool    = "cloud.google.com/gke-nodepool"
	ResourceTPU          = "google.com/tpu"
	ResourceGPU          = "nvidia.com/gpu"

	// ContainerName is the replica's container.
	ContainerName = "replica"
	// DefaultPort is the port replicas listen on in their pod (PORT).
	DefaultPort = 8080
	// EnvHost is the pod IP replicas bind (downward API status.podIP).
	EnvHost = "GANTRY_HOST"
)

// labelValue makes s a valid label value: at most 63 characters of
// [A-Za-z0-9._-], starting and ending alphanumeric. Values that had to change
// get a short hash so that different inputs stay different.
func labelValue(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('.')
		}
	}
	v := b.String()
	if v == s && len(v) <= 63 && alnumEnds(v) {
		return v
	}
	return shorten(strings.Trim(v, "._-"), 63)
}

// dnsLabel makes s a DNS-1123 label of at most n characters: lower-case
// alphanumerics and '-', alphanumeric at both ends.
func dnsLabel(s string, n int) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			b.WriteRune(r)
		} else {
			b.WriteByte('-')
		}
	}
	v := strings.Trim(b.String(), "-")
	if v == strings.ToLower(s) && len(v) <= n && v != "" {
		return v
	}
	return shorten(v, n)
}

// shorten cuts v to n characters with a hash of v at the end.
func shorten(v string, n int) string {
	sum := sha256.Sum256([]byte(v))
	h := hex.EncodeToString(sum[:])[:8]
	if len(v) > n-9 {
		v = strings.TrimRight(v[:n-9], "._-")
	}
	if v == "" {
		return h
	}
	return v + "-" + h
}

func alnumEnds(v string) bool {
	isAlnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	return v != "" && isAlnum(v[0]) && isAlnum(v[len(v)-1])
}

// headlessName is the headless Service a GantryService's TPU pods are a
// subdomain of: "<service>-headless", as KubeRay's "<cluster>-headless".
func headlessName(service string) string {
	if service == "" {
		service = "gantry"
	}
	return dnsLabel(service, 54) + "-headless"
}

package config

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"reflect"
	"slices"
)

// Code is what a deployment's replicas are made of, resolved as they will
// run. When any of it changes, replicas are replaced in a rolling way;
// everything else in a deployment is applied in place.
//
// Code is resolved, not as written, so the same config gives the same Code
// however it reaches the gateway: `gantry serve CONFIG` keeps the file's
// folder in BaseDir, while `gantry deploy CONFIG` sends the paths already
// resolved against it; both end up with the same command and working_dir.
type Code struct {
	// Replica is the replica block with its defaults applied (protocol,
	// health_path, and working_dir the config's folder) and relative paths
	// resolved against the config's folder. A command of "gantry" stays as
	// written: it names whichever gantry executable runs the config.
	Replica ReplicaConfig `json:"replica"`
	// RayActorOptions are the deployment's resources.
	RayActorOptions RayActorOptions `json:"ray_actor_options"`
}

// deploymentCode resolves what d's replicas are made of against base, the
// config's folder.
func deploymentCode(d *Deployment, base string) Code {
	var r ReplicaConfig
	if d.Replica != nil {
		r = *d.Replica
	}
	r.Command = resolveCommand(r.Command, "", base)
	r.WorkingDir = resolvePath(r.WorkingDir, base)
	r.Protocol = stringOrDefault(r.Protocol, DefaultProtocol)
	r.HealthPath = stringOrDefault(r.HealthPath, DefaultHealthPath)
	if len(r.Env) == 0 {
		r.Env = nil
	}
	var o RayActorOptions
	if d.RayActorOptions != nil {
		o = *d.RayActorOptions
	}
	if len(o.Resources) == 0 {
		o.Resources = nil
	}
	if len(o.RuntimeEnv) == 0 {
		o.RuntimeEnv = nil
	}
	return Code{Replica: r, RayActorOptions: o}
}

// Version is a hash of c: the first 16 hex digits of the SHA-256 of its
// JSON encoding (encoding/json sorts map keys, so it is deterministic).
func (c Code) Version() string {
	b, err := json.Marshal(c)
	if err != nil {
		b = []byte(err.Error()) // unreachable: the types always encode
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// Changes returns the config paths of the fields that differ between was
// and c, sorted: "replica.command", "replica.env.FOO",
// "ray_actor_options.num_cpus". A list (the command) is one field; a map
// (env, resources) is compared key by key.
func (c Code) Changes(was Code) []string {
	var out []string
	diffJSON("", codeTree(was), codeTree(c), &out)
	return out
}

// codeTree is c's JSON encoding decoded into maps, lists and scalars.
func codeTree(c Code) any {
	b, err := json.Marshal(c)
	if err != nil {
		return err.Error() // unreachable: the types always encode
	}
	var tree any
	if err := json.Unmarshal(b, &tree); err != nil {
		return err.Error()
	}
	return tree
}

// diffJSON appends to out the paths below path where a and b differ. An
// object missing on one side counts as empty, so a new env variable is
// named rather than the whole env.
func diffJSON(path string, a, b any, out *[]string) {
	am, aObj := a.(map[string]any)
	bm, bObj := b.(map[string]any)
	if (aObj || a == nil) && (bObj || b == nil) && (aObj || bObj) {
		keys := slices.Sorted(func(yield func(string) bool) {
			for k := range am {
				if !yield(k) {
					return
				}
			}
			for k := range bm {
				if _, dup := am[k]; !dup && !yield(k) {
					return
				}
			}
		})
		for _, k := range keys {
			diffJSON(pathKey(path, k), am[k], bm[k], out)
		}
		return
	}
	if !reflect.DeepEqual(a, b) {
		*out = append(*out, path)
	}
}

package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ResourceTPU is the ray_actor_options.resources key a deployment asks for
// TPU chips with (KubeRay maps google.com/tpu to this Ray resource).
const ResourceTPU = "TPU"

// TPUChips returns the chips o asks for in ray_actor_options.resources.TPU:
// 0 when o is nil or does not ask (a TPU of 0 asks for none, as in Ray), an
// error when the count is not a whole positive number.
func TPUChips(o *RayActorOptions) (int, error) {
	if o == nil {
		return 0, nil
	}
	n, ok := o.Resources[ResourceTPU]
	switch {
	case !ok || n == 0:
		return 0, nil
	case n < 0 || n != math.Trunc(n) || n > maxChips:
		return 0, fmt.Errorf("asks for %s TPU chips; a replica on a TPU slice takes a whole slice, so this must be the "+
			"whole number of chips of a worker group's slices (from 1 to %d)", fmtFloat(n), maxChips)
	}
	return int(n), nil
}

// GroupFor returns the worker group replicas with actor options o are
// placed on. ok is false, with a nil error, when o asks for no TPU chips.
// A replica asking for ray_actor_options.resources.TPU = N needs a whole
// slice of exactly N chips (Chips() == N); with accelerator_type set, the
// group's accelerator must also match it (see AcceleratorMatches). The
// first such group in config order wins; groups whose topology or
// chips_per_host are invalid, or that can never have a slice (replicas and
// max_replicas both 0), never fit. When no group fits, the error says what
// was asked and what every group offers.
func GroupFor(o *RayActorOptions, groups []WorkerGroup) (g WorkerGroup, ok bool, err error) {
	chips, err := TPUChips(o)
	if err != nil || chips == 0 {
		return WorkerGroup{}, false, err
	}
	for i := range groups {
		w := &groups[i]
		if w.Chips() == chips && w.Hosts() > 0 && w.SliceCount() > 0 && AcceleratorMatches(o.AcceleratorType, w) {
			return *w, true, nil
		}
	}
	ask := fmt.Sprintf("TPU: %d", chips)
	if o.AcceleratorType != "" {
		ask += fmt.Sprintf(" with accelerator_type %q", o.AcceleratorType)
	}
	if len(groups) == 0 {
		return WorkerGroup{}, false, fmt.Errorf("asks for %s, but there are no worker_groups to place it on; "+
			"add a worker group whose topology has %d chips", ask, chips)
	}
	return WorkerGroup{}, false, fmt.Errorf("asks for %s, but no worker group has slices of exactly %d chips%s "+
		"(a replica takes one whole slice); worker_groups offer: %s",
		ask, chips, acceleratorClause(o.AcceleratorType), groupOffers(groups))
}

func acceleratorClause(a string) string {
	if a == "" {
		return ""
	}
	return fmt.Sprintf(" and accelerator %q", a)
}

// SliceCount is the most slices the group can ever have: replicas, or
// max_replicas when that is larger.
func (g *WorkerGroup) SliceCount() int {
	n := g.Replicas
	if g.MaxReplicas != nil {
		n = max(n, *g.MaxReplicas)
	}
	return n
}

// offer describes what a group's slices are, for error messages:
// `tpu-group (tpu-v4-podslice 2x2x1: 4 chips, 1 host; 2 slices)`.
func (g *WorkerGroup) offer() string {
	chips, hosts := g.Chips(), g.Hosts()
	shape := fmt.Sprintf("%s %s: ", g.Accelerator, g.Topology)
	switch {
	case chips == 0:
		shape += "invalid topology"
	case hosts == 0:
		shape += fmt.Sprintf("%d chips, invalid chips_per_host", chips)
	default:
		shape += fmt.Sprintf("%d chips, %s", chips, countOf(hosts, "host"))
	}
	return fmt.Sprintf("%s (%s; %s)", g.Name, shape, countOf(g.SliceCount(), "slice"))
}

func countOf(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

// rayTPUAccelerators maps Ray's TPU accelerator_type names
// (ray.util.accelerators) to GKE's gke-tpu-accelerator values.
var rayTPUAccelerators = map[string][]string{
	"TPU-V2":        {"tpu-v2-podslice"},
	"TPU-V3":        {"tpu-v3-podslice", "tpu-v3-slice", "tpu-v3-device"},
	"TPU-V4":        {"tpu-v4-podslice"},
	"TPU-V5P":       {"tpu-v5p-slice"},
	"TPU-V5LITEPOD": {"tpu-v5-lite-podslice", "tpu-v5-lite-device"},
	"TPU-V6E":       {"tpu-v6e-slice"},
}

// AcceleratorMatches reports whether a deployment's accelerator_type a
// selects group g: a is empty, equals the group's accelerator (e.g.
// "tpu-v4-podslice") or name, ignoring case, or is Ray's name for the
// group's accelerator (e.g. "TPU-V4" for tpu-v4-podslice).
func AcceleratorMatches(a string, g *WorkerGroup) bool {
	if a == "" || strings.EqualFold(a, g.Accelerator) || strings.EqualFold(a, g.Name) {
		return true
	}
	for _, gke := range rayTPUAccelerators[strings.ToUpper(a)] {
		if strings.EqualFold(gke, g.Accelerator) {
			return true
		}
	}
	return false
}

// DeploymentGroups returns, for each deployment in config order (the order
// of Config.Specs), the worker group its replicas are placed on, or nil if
// it asks for no TPU chips or no group fits (ValidatePlacement reports that).
// The pointers are into c.WorkerGroups.
func DeploymentGroups(c *Config) []*WorkerGroup {
	var out []*WorkerGroup
	for i := range c.Applications {
		for j := range c.Applications[i].Deployments {
			var group *WorkerGroup
			if w, ok, err := GroupFor(c.Applications[i].Deployments[j].RayActorOptions, c.WorkerGroups); ok && err == nil {
				for k := range c.WorkerGroups {
					if c.WorkerGroups[k].Name == w.Name {
						group = &c.WorkerGroups[k]
						break
					}
				}
			}
			out = append(out, group)
		}
	}
	return out
}

// ValidatePlacement reports every deployment that asks for TPU chips no
// worker group can ever give it, at the path of what it asked:
// applications[i].deployments[j].ray_actor_options.resources.TPU, or
// ….ray_actor_options.accelerator_type when that names no group's
// accelerator at all. Problems with the groups themselves (topology,
// chips_per_host) are Validate's; such a group simply never fits here.
func ValidatePlacement(c *Config) []Problem {
	var out []Problem
	for i := range c.Applications {
		a := &c.Applications[i]
		for j := range a.Deployments {
			o := a.Deployments[j].RayActorOptions
			_, _, err := GroupFor(o, c.WorkerGroups)
			if err == nil || o.Resources[ResourceTPU] < 0 {
				continue // a negative count is already Validate's problem
			}
			p := pathIndex(pathIndex("applications", i)+".deployments", j) + ".ray_actor_options"
			if o.AcceleratorType != "" && !slices.ContainsFunc(c.WorkerGroups, func(g WorkerGroup) bool {
				return AcceleratorMatches(o.AcceleratorType, &g)
			}) {
				out = append(out, Problem{Path: p + ".accelerator_type", Message: fmt.Sprintf(
					"%q names no worker group's accelerator; worker_groups offer: %s", o.AcceleratorType, groupOffers(c.WorkerGroups))})
				continue
			}
			out = append(out, Problem{Path: pathKey(p+".resources", ResourceTPU), Message: err.Error()})
		}
	}
	return out
}

func groupOffers(groups []WorkerGroup) string {
	if len(groups) == 0 {
		return "none"
	}
	s := make([]string, len(groups))
	for i := range groups {
		s[i] = groups[i].offer()
	}
	return strings.Join(s, "; ")
}

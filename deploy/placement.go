package deploy

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ResourceTPU is the ray_actor_options.resources key a deployment asks for
// TPU chips with (KubeRay maps google.com/tpu to this Ray resource).
const ResourceTPU = "TPU"

// Slices records which replica holds which slice of each worker group. A
// slice is identified by its index in its group, 0..replicas-1, which is also
// its TPU_NAME suffix; one replica holds at most one slice of a group and a
// slice is held by at most one replica.
//
// Slices is plain data for the controller's single goroutine: it starts
// nothing, never blocks and is not safe for concurrent use.
type Slices struct {
	groups map[string]*groupSlices
}

// groupSlices is one worker group's slices.
type groupSlices struct {
	// size is the group's configured slice count (worker_groups[].replicas);
	// 0 once the group has been removed from the config.
	size int
	// owners[i] is the replica holding slice i, "" if free. It may be longer
	// than size after a Resize shrank the group while the slices past the
	// end were held; Release trims it.
	owners []string
}

// SliceHold is one held slice.
type SliceHold struct {
	Group     string
	Slice     int
	ReplicaID string
}

// NewSlices returns an allocator with every slice of groups free. Groups are
// identified by name; a name that appears twice (refused by Validate) keeps
// the first.
func NewSlices(groups []WorkerGroup) *Slices {
	s := &Slices{groups: map[string]*groupSlices{}}
	s.Resize(groups)
	return s
}

// Acquire gives replicaID the lowest-numbered free slice of group. It
// returns ok false if the group is unknown, has no free slice, or replicaID
// is empty. A replica that already holds a slice of the group gets that
// slice again: a replica never holds two.
func (s *Slices) Acquire(group, replicaID string) (slice int, ok bool) {
	g := s.groups[group]
	if g == nil || replicaID == "" {
		return -1, false
	}
	if i := slices.Index(g.owners, replicaID); i >= 0 {
		return i, true
	}
	for i := range g.size {
		if g.owners[i] == "" {
			g.owners[i] = replicaID
			return i, true
		}
	}
	return -1, false
}

// AcquireIndex gives replicaID slice slice of group, so that a replica group
// restarted (or recovered after a gateway restart) keeps its slice and
// hostnames. It returns true if the slice is now held by replicaID: it was
// free, or replicaID already held it. It returns false if the slice is held
// by another replica, is out of the group's range, the group is unknown,
// replicaID is empty, or replicaID already holds a different slice of the
// group.
func (s *Slices) AcquireIndex(group string, slice int, replicaID string) bool {
	g := s.groups[group]
	if g == nil || replicaID == "" || slice < 0 || slice >= g.size {
		return false
	}
	switch g.owners[slice] {
	case replicaID:
		return true
	case "":
		if slices.Contains(g.owners, replicaID) {
			return false
		}
		g.owners[slice] = replicaID
		return true
	default:
		return false
	}
}

// Release frees slice slice of group. Releasing a free slice, an unknown
// group or an index out of range does nothing.
func (s *Slices) Release(group string, slice int) {
	g := s.groups[group]
	if g == nil || slice < 0 || slice >= len(g.owners) {
		return
	}
	g.owners[slice] = ""
	s.trim(group, g)
}

// trim drops the free slices past a shrunk group's end, and the group itself
// once it has been removed from the config and nothing holds its slices.
func (s *Slices) trim(name string, g *groupSlices) {
	n := len(g.owners)
	for n > g.size && g.owners[n-1] == "" {
		n--
	}
	g.owners = g.owners[:n]
	if g.size == 0 && n == 0 {
		delete(s.groups, name)
	}
}

// Owner returns the replica holding slice slice of group, "" if it is free
// or does not exist.
func (s *Slices) Owner(group string, slice int) string {
	g := s.groups[group]
	if g == nil || slice < 0 || slice >= len(g.owners) {
		return ""
	}
	return g.owners[slice]
}

// Size returns the group's configured slice count, 0 for an unknown group.
func (s *Slices) Size(group string) int {
	if g := s.groups[group]; g != nil {
		return g.size
	}
	return 0
}

// Free returns how many of group's slices are free: the slices Acquire can
// still hand out.
func (s *Slices) Free(group string) int {
	g := s.groups[group]
	if g == nil {
		return 0
	}
	n := 0
	for _, o := range g.owners[:g.size] {
		if o == "" {
			n++
		}
	}
	return n
}

// Owned returns how many slices of group within its configured range are
// held by replicas whose id starts with replicaPrefix (all held slices for
// ""). With ids like "app#deployment#suffix", pass "app#deployment#" with
// the trailing "#" so that deployment "d" does not also count "d2".
// Slices left out of range by a Resize are not counted: they are going
// away (see Resize). Free + Owned is the most replicas a deployment can run
// on the group right now, the autoscaler's ceiling.
func (s *Slices) Owned(group, replicaPrefix string) int {
	g := s.groups[group]
	if g == nil {
		return 0
	}
	n := 0
	for _, o := range g.owners[:g.size] {
		if o != "" && strings.HasPrefix(o, replicaPrefix) {
			n++
		}
	}
	return n
}

// Held returns every held slice of group, out-of-range ones included, in
// slice order.
func (s *Slices) Held(group string) []SliceHold {
	g := s.groups[group]
	if g == nil {
		return nil
	}
	var out []SliceHold
	for i, o := range g.owners {
		if o != "" {
			out = append(out, SliceHold{Group: group, Slice: i, ReplicaID: o})
		}
	}
	return out
}

// Resize applies a new worker_groups list: new groups start with every
// slice free, a group's slice count follows its replicas, and removed groups
// have no slices left to acquire. Held slices are never dropped: a slice
// held by a replica that is now past its group's end (replicas shrank, or
// the group was removed) stays held, cannot be reacquired once released,
// and is returned, sorted by group then slice, so that the controller can
// stop those replicas and Release their slices. Growing back before then
// brings them into range again. Holds within range are kept as they are.
func (s *Slices) Resize(groups []WorkerGroup) (outOfRange []SliceHold) {
	seen := map[string]bool{}
	for i := range groups {
		w := &groups[i]
		if seen[w.Name] {
			continue
		}
		seen[w.Name] = true
		size := max(w.Replicas, 0)
		g := s.groups[w.Name]
		if g == nil {
			g = &groupSlices{}
			s.groups[w.Name] = g
		}
		g.size = size
		if len(g.owners) < size {
			g.owners = append(g.owners, make([]string, size-len(g.owners))...)
		}
	}
	for name, g := range s.groups {
		if !seen[name] {
			g.size = 0
		}
		s.trim(name, g)
		if g.size == 0 && len(g.owners) == 0 {
			continue
		}
		for i := g.size; i < len(g.owners); i++ {
			if o := g.owners[i]; o != "" {
				outOfRange = append(outOfRange, SliceHold{Group: name, Slice: i, ReplicaID: o})
			}
		}
	}
	slices.SortFunc(outOfRange, func(a, b SliceHold) int {
		return cmp.Or(strings.Compare(a.Group, b.Group), cmp.Compare(a.Slice, b.Slice))
	})
	return outOfRange
}

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
		if w.Chips() == chips && w.Hosts() > 0 && w.maxSlices() > 0 && AcceleratorMatches(o.AcceleratorType, w) {
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

// maxSlices is the most slices the group can ever have.
func (g *WorkerGroup) maxSlices() int {
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
	return fmt.Sprintf("%s (%s; %s)", g.Name, shape, countOf(g.maxSlices(), "slice"))
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

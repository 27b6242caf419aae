package deploy

import (
	"cmp"
	"gantry.dev/gantry/deploy/config"
	"slices"
	"strings"
)

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
func NewSlices(groups []config.WorkerGroup) *Slices {
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
func (s *Slices) Resize(groups []config.WorkerGroup) (outOfRange []SliceHold) {
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

package deploy

import (
	"reflect"
	"testing"

	"gantry.dev/gantry/deploy/config"
)

func testGroup(name, accel, topology string, chipsPerHost, replicas int) config.WorkerGroup {
	return config.WorkerGroup{Name: name, Accelerator: accel, Topology: topology, ChipsPerHost: chipsPerHost, Replicas: replicas}
}

// sliceOp is one step of an allocation scenario and what it must return.
type sliceOp struct {
	op      string // acquire, index, release, resize
	group   string
	replica string
	slice   int                  // index, release; acquire's expected slice
	ok      bool                 // acquire, index
	groups  []config.WorkerGroup // resize
	out     []SliceHold          // resize
}

func TestSlicesAllocation(t *testing.T) {
	two := []config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x2", 4, 2), testGroup("small", "tpu-v4-podslice", "2x2x1", 4, 1)}
	tests := []struct {
		name   string
		groups []config.WorkerGroup
		ops    []sliceOp
		// after the ops: Free and Owned("a#") per group
		free, ownedA map[string]int
	}{
		{
			name:   "lowest free index, exclusive, full group refuses",
			groups: two,
			ops: []sliceOp{
				{op: "acquire", group: "tpu", replica: "a#d#1", slice: 0, ok: true},
				{op: "acquire", group: "tpu", replica: "a#d#2", slice: 1, ok: true},
				{op: "acquire", group: "tpu", replica: "a#d#3", slice: -1, ok: false},
				{op: "acquire", group: "small", replica: "a#d#3", slice: 0, ok: true},
				{op: "acquire", group: "nope", replica: "a#d#4", slice: -1, ok: false},
				{op: "acquire", group: "small", replica: "", slice: -1, ok: false},
			},
			free:   map[string]int{"tpu": 0, "small": 0, "nope": 0},
			ownedA: map[string]int{"tpu": 2, "small": 1},
		},
		{
			name:   "acquire twice gives the same slice",
			groups: two,
			ops: []sliceOp{
				{op: "acquire", group: "tpu", replica: "a#d#1", slice: 0, ok: true},
				{op: "acquire", group: "tpu", replica: "a#d#1", slice: 0, ok: true},
			},
			free:   map[string]int{"tpu": 1},
			ownedA: map[string]int{"tpu": 1},
		},
		{
			name:   "release then reacquire takes the lowest free index",
			groups: []config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 3)},
			ops: []sliceOp{
				{op: "acquire", group: "tpu", replica: "a#d#1", slice: 0, ok: true},
				{op: "acquire", group: "tpu", replica: "a#d#2", slice: 1, ok: true},
				{op: "acquire", group: "tpu", replica: "b#e#1", slice: 2, ok: true},
				{op: "release", group: "tpu", slice: 1},
				{op: "release", group: "tpu", slice: 1}, // twice: no-op
				{op: "release", group: "tpu", slice: 7}, // out of range: no-op
				{op: "release", group: "nope", slice: 0},
				{op: "acquire", group: "tpu", replica: "b#e#2", slice: 1, ok: true},
				{op: "release", group: "tpu", slice: 0},
				{op: "acquire", group: "tpu", replica: "a#d#3", slice: 0, ok: true},
			},
			free:   map[string]int{"tpu": 0},
			ownedA: map[string]int{"tpu": 1},
		},
		{
			name:   "AcquireIndex keeps a restarted group on its slice",
			groups: []config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x2", 4, 3)},
			ops: []sliceOp{
				{op: "index", group: "tpu", replica: "a#d#1", slice: 2, ok: true},
				{op: "index", group: "tpu", replica: "a#d#1", slice: 2, ok: true},  // already held: idempotent
				{op: "index", group: "tpu", replica: "a#d#2", slice: 2, ok: false}, // held by another
				{op: "index", group: "tpu", replica: "a#d#1", slice: 0, ok: false}, // already holds 2
				{op: "index", group: "tpu", replica: "a#d#2", slice: 3, ok: false}, // out of range
				{op: "index", group: "tpu", replica: "a#d#2", slice: -1, ok: false},
				{op: "index", group: "tpu", replica: "", slice: 0, ok: false},
				{op: "index", group: "nope", replica: "a#d#2", slice: 0, ok: false},
				{op: "acquire", group: "tpu", replica: "a#d#2", slice: 0, ok: true},
				{op: "release", group: "tpu", slice: 2},
				{op: "index", group: "tpu", replica: "a#d#1", slice: 2, ok: true}, // back on its slice
			},
			free:   map[string]int{"tpu": 1},
			ownedA: map[string]int{"tpu": 2},
		},
		{
			name:   "resize grows, shrinks without dropping held slices, removes groups",
			groups: []config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 3), testGroup("old", "tpu-v4-podslice", "2x2x2", 4, 1)},
			ops: []sliceOp{
				{op: "acquire", group: "tpu", replica: "a#d#1", slice: 0, ok: true},
				{op: "acquire", group: "tpu", replica: "a#d#2", slice: 1, ok: true},
				{op: "acquire", group: "tpu", replica: "a#d#3", slice: 2, ok: true},
				{op: "acquire", group: "old", replica: "b#e#1", slice: 0, ok: true},
				{op: "release", group: "tpu", slice: 1},
				// tpu shrinks to 1: slice 1 is free and goes, slice 2 is held and is reported.
				// old is removed: its held slice is reported.
				{op: "resize", groups: []config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 1), testGroup("new", "tpu-v4-podslice", "2x2x1", 4, 2)},
					out: []SliceHold{{"old", 0, "b#e#1"}, {"tpu", 2, "a#d#3"}}},
				{op: "acquire", group: "tpu", replica: "a#d#4", slice: -1, ok: false},
				{op: "index", group: "tpu", replica: "a#d#4", slice: 1, ok: false},
				{op: "acquire", group: "old", replica: "a#d#4", slice: -1, ok: false},
				{op: "acquire", group: "new", replica: "a#d#4", slice: 0, ok: true},
				// Still reported until released.
				{op: "resize", groups: []config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 1), testGroup("new", "tpu-v4-podslice", "2x2x1", 4, 2)},
					out: []SliceHold{{"old", 0, "b#e#1"}, {"tpu", 2, "a#d#3"}}},
				{op: "release", group: "tpu", slice: 2},
				{op: "release", group: "old", slice: 0},
				{op: "resize", groups: []config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 1), testGroup("new", "tpu-v4-podslice", "2x2x1", 4, 2)}},
				// Growing keeps the holds in range and adds free slices.
				{op: "resize", groups: []config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 4), testGroup("new", "tpu-v4-podslice", "2x2x1", 4, 2)}},
				{op: "acquire", group: "tpu", replica: "b#e#2", slice: 1, ok: true},
			},
			free:   map[string]int{"tpu": 2, "new": 1, "old": 0},
			ownedA: map[string]int{"tpu": 1, "new": 1, "old": 0},
		},
		{
			name:   "growing back brings an out-of-range hold into range",
			groups: []config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 2)},
			ops: []sliceOp{
				{op: "acquire", group: "tpu", replica: "a#d#1", slice: 0, ok: true},
				{op: "acquire", group: "tpu", replica: "a#d#2", slice: 1, ok: true},
				{op: "resize", groups: []config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 0)},
					out: []SliceHold{{"tpu", 0, "a#d#1"}, {"tpu", 1, "a#d#2"}}},
				{op: "resize", groups: nil, out: []SliceHold{{"tpu", 0, "a#d#1"}, {"tpu", 1, "a#d#2"}}},
				{op: "resize", groups: []config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 3)}},
				{op: "index", group: "tpu", replica: "a#d#1", slice: 0, ok: true},
				{op: "acquire", group: "tpu", replica: "a#d#3", slice: 2, ok: true},
			},
			free:   map[string]int{"tpu": 0},
			ownedA: map[string]int{"tpu": 3},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := NewSlices(tt.groups)
			for i, op := range tt.ops {
				switch op.op {
				case "acquire":
					slice, ok := s.Acquire(op.group, op.replica)
					if slice != op.slice || ok != op.ok {
						t.Fatalf("op %d: Acquire(%q, %q) = %d, %v; want %d, %v", i, op.group, op.replica, slice, ok, op.slice, op.ok)
					}
					if ok && s.Owner(op.group, slice) != op.replica {
						t.Fatalf("op %d: Owner(%q, %d) = %q, want %q", i, op.group, slice, s.Owner(op.group, slice), op.replica)
					}
				case "index":
					if ok := s.AcquireIndex(op.group, op.slice, op.replica); ok != op.ok {
						t.Fatalf("op %d: AcquireIndex(%q, %d, %q) = %v, want %v", i, op.group, op.slice, op.replica, ok, op.ok)
					}
				case "release":
					s.Release(op.group, op.slice)
					if o := s.Owner(op.group, op.slice); o != "" {
						t.Fatalf("op %d: Owner(%q, %d) = %q after Release", i, op.group, op.slice, o)
					}
				case "resize":
					if out := s.Resize(op.groups); !reflect.DeepEqual(out, op.out) {
						t.Fatalf("op %d: Resize = %v, want %v", i, out, op.out)
					}
				default:
					t.Fatalf("op %d: unknown op %q", i, op.op)
				}
				checkExclusive(t, s)
			}
			for g, want := range tt.free {
				if got := s.Free(g); got != want {
					t.Errorf("Free(%q) = %d, want %d", g, got, want)
				}
			}
			for g, want := range tt.ownedA {
				if got := s.Owned(g, "a#"); got != want {
					t.Errorf("Owned(%q, a#) = %d, want %d", g, got, want)
				}
			}
		})
	}
}

// checkExclusive fails if a replica holds two slices of a group or a free
// count is off.
func checkExclusive(t *testing.T, s *Slices) {
	t.Helper()
	for name, g := range s.groups {
		seen := map[string]int{}
		for i, o := range g.owners {
			if o == "" {
				continue
			}
			if j, dup := seen[o]; dup {
				t.Fatalf("group %q: %q holds slices %d and %d", name, o, j, i)
			}
			seen[o] = i
		}
		inRange := 0
		for _, h := range s.Held(name) {
			if h.Slice < g.size {
				inRange++
			}
		}
		if s.Free(name)+s.Owned(name, "") != g.size || inRange != s.Owned(name, "") {
			t.Fatalf("group %q: free %d + owned %d != size %d", name, s.Free(name), s.Owned(name, ""), g.size)
		}
	}
}

func TestSlicesOwnedPrefix(t *testing.T) {
	s := NewSlices([]config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 4)})
	for _, id := range []string{"app#d#1", "app#d2#1", "app#d#2", "other#d#1"} {
		if _, ok := s.Acquire("tpu", id); !ok {
			t.Fatalf("Acquire(%q) failed", id)
		}
	}
	for prefix, want := range map[string]int{"app#d#": 2, "app#d2#": 1, "app#": 3, "": 4, "nobody#": 0} {
		if got := s.Owned("tpu", prefix); got != want {
			t.Errorf("Owned(tpu, %q) = %d, want %d", prefix, got, want)
		}
	}
	if got := s.Owned("nope", ""); got != 0 {
		t.Errorf("Owned(nope) = %d", got)
	}
	want := []SliceHold{{"tpu", 0, "app#d#1"}, {"tpu", 1, "app#d2#1"}, {"tpu", 2, "app#d#2"}, {"tpu", 3, "other#d#1"}}
	if got := s.Held("tpu"); !reflect.DeepEqual(got, want) {
		t.Errorf("Held = %v, want %v", got, want)
	}
	if s.Size("tpu") != 4 || s.Size("nope") != 0 {
		t.Errorf("Size = %d, %d", s.Size("tpu"), s.Size("nope"))
	}
}

func TestSlicesDuplicateGroupNames(t *testing.T) {
	s := NewSlices([]config.WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 1), testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 5)})
	if got := s.Size("tpu"); got != 1 {
		t.Errorf("Size = %d, want the first group's 1", got)
	}
}

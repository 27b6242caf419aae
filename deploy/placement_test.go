package deploy

import (
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func testGroup(name, accel, topology string, chipsPerHost, replicas int) WorkerGroup {
	return WorkerGroup{Name: name, Accelerator: accel, Topology: topology, ChipsPerHost: chipsPerHost, Replicas: replicas}
}

// sliceOp is one step of an allocation scenario and what it must return.
type sliceOp struct {
	op      string // acquire, index, release, resize
	group   string
	replica string
	slice   int           // index, release; acquire's expected slice
	ok      bool          // acquire, index
	groups  []WorkerGroup // resize
	out     []SliceHold   // resize
}

func TestSlicesAllocation(t *testing.T) {
	two := []WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x2", 4, 2), testGroup("small", "tpu-v4-podslice", "2x2x1", 4, 1)}
	tests := []struct {
		name   string
		groups []WorkerGroup
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
			groups: []WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 3)},
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
			groups: []WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x2", 4, 3)},
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
			groups: []WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 3), testGroup("old", "tpu-v4-podslice", "2x2x2", 4, 1)},
			ops: []sliceOp{
				{op: "acquire", group: "tpu", replica: "a#d#1", slice: 0, ok: true},
				{op: "acquire", group: "tpu", replica: "a#d#2", slice: 1, ok: true},
				{op: "acquire", group: "tpu", replica: "a#d#3", slice: 2, ok: true},
				{op: "acquire", group: "old", replica: "b#e#1", slice: 0, ok: true},
				{op: "release", group: "tpu", slice: 1},
				// tpu shrinks to 1: slice 1 is free and goes, slice 2 is held and is reported.
				// old is removed: its held slice is reported.
				{op: "resize", groups: []WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 1), testGroup("new", "tpu-v4-podslice", "2x2x1", 4, 2)},
					out: []SliceHold{{"old", 0, "b#e#1"}, {"tpu", 2, "a#d#3"}}},
				{op: "acquire", group: "tpu", replica: "a#d#4", slice: -1, ok: false},
				{op: "index", group: "tpu", replica: "a#d#4", slice: 1, ok: false},
				{op: "acquire", group: "old", replica: "a#d#4", slice: -1, ok: false},
				{op: "acquire", group: "new", replica: "a#d#4", slice: 0, ok: true},
				// Still reported until released.
				{op: "resize", groups: []WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 1), testGroup("new", "tpu-v4-podslice", "2x2x1", 4, 2)},
					out: []SliceHold{{"old", 0, "b#e#1"}, {"tpu", 2, "a#d#3"}}},
				{op: "release", group: "tpu", slice: 2},
				{op: "release", group: "old", slice: 0},
				{op: "resize", groups: []WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 1), testGroup("new", "tpu-v4-podslice", "2x2x1", 4, 2)}},
				// Growing keeps the holds in range and adds free slices.
				{op: "resize", groups: []WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 4), testGroup("new", "tpu-v4-podslice", "2x2x1", 4, 2)}},
				{op: "acquire", group: "tpu", replica: "b#e#2", slice: 1, ok: true},
			},
			free:   map[string]int{"tpu": 2, "new": 1, "old": 0},
			ownedA: map[string]int{"tpu": 1, "new": 1, "old": 0},
		},
		{
			name:   "growing back brings an out-of-range hold into range",
			groups: []WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 2)},
			ops: []sliceOp{
				{op: "acquire", group: "tpu", replica: "a#d#1", slice: 0, ok: true},
				{op: "acquire", group: "tpu", replica: "a#d#2", slice: 1, ok: true},
				{op: "resize", groups: []WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 0)},
					out: []SliceHold{{"tpu", 0, "a#d#1"}, {"tpu", 1, "a#d#2"}}},
				{op: "resize", groups: nil, out: []SliceHold{{"tpu", 0, "a#d#1"}, {"tpu", 1, "a#d#2"}}},
				{op: "resize", groups: []WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 3)}},
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
	s := NewSlices([]WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 4)})
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
	s := NewSlices([]WorkerGroup{testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 1), testGroup("tpu", "tpu-v4-podslice", "2x2x1", 4, 5)})
	if got := s.Size("tpu"); got != 1 {
		t.Errorf("Size = %d, want the first group's 1", got)
	}
}

func tpuOpts(chips float64, accel string) *RayActorOptions {
	return &RayActorOptions{Resources: map[string]float64{"TPU": chips}, AcceleratorType: accel}
}

func TestGroupFor(t *testing.T) {
	groups := []WorkerGroup{
		testGroup("tpu-group", "tpu-v4-podslice", "2x2x1", 4, 2),
		testGroup("v4-multi", "tpu-v4-podslice", "2x2x2", 4, 2),
		testGroup("v5e", "tpu-v5-lite-podslice", "2x4", 8, 1),
		testGroup("v6e", "tpu-v6e-slice", "4x4", 4, 1),
		testGroup("broken", "tpu-v6e-slice", "2x2", 3, 1), // chips_per_host does not divide
		{Name: "empty", Accelerator: "tpu-v6e-slice", Topology: "2x2x1", ChipsPerHost: 4, Replicas: 0, MaxReplicas: newPtr(0)},
	}
	tests := []struct {
		name    string
		opts    *RayActorOptions
		want    string // group name; "" with ok false
		errHas  []string
		noGroup bool
	}{
		{name: "no options", opts: nil},
		{name: "no TPU", opts: &RayActorOptions{Resources: map[string]float64{"CPU": 2}}},
		{name: "TPU 0", opts: tpuOpts(0, "")},
		{name: "accelerator_type alone asks nothing", opts: &RayActorOptions{AcceleratorType: "tpu-v4-podslice"}},
		{name: "4 chips", opts: tpuOpts(4, ""), want: "tpu-group"},
		{name: "8 chips: first group in config order", opts: tpuOpts(8, ""), want: "v4-multi"},
		{name: "8 chips on v5e by accelerator", opts: tpuOpts(8, "tpu-v5-lite-podslice"), want: "v5e"},
		{name: "8 chips on v5e by Ray's name", opts: tpuOpts(8, "TPU-V5LITEPOD"), want: "v5e"},
		{name: "8 chips by group name", opts: tpuOpts(8, "v5e"), want: "v5e"},
		{name: "accelerator case-insensitive", opts: tpuOpts(4, "TPU-V4-PODSLICE"), want: "tpu-group"},
		{name: "16 chips", opts: tpuOpts(16, "TPU-V6E"), want: "v6e"},
		{name: "no group of 2 chips", opts: tpuOpts(2, ""),
			errHas: []string{"TPU: 2", "exactly 2 chips", "tpu-group (tpu-v4-podslice 2x2x1: 4 chips, 1 host; 2 slices)",
				"v4-multi (tpu-v4-podslice 2x2x2: 8 chips, 2 hosts; 2 slices)", "v6e (tpu-v6e-slice 4x4: 16 chips, 4 hosts; 1 slice)",
				"broken (tpu-v6e-slice 2x2: 4 chips, invalid chips_per_host; 1 slice)"}},
		{name: "chips fit but not the accelerator", opts: tpuOpts(16, "tpu-v4-podslice"),
			errHas: []string{`TPU: 16 with accelerator_type "tpu-v4-podslice"`, `exactly 16 chips and accelerator "tpu-v4-podslice"`}},
		{name: "group that never has slices does not fit", opts: tpuOpts(4, "tpu-v6e-slice"),
			errHas: []string{"empty (tpu-v6e-slice 2x2x1: 4 chips, 1 host; 0 slices)"}},
		{name: "fraction", opts: tpuOpts(0.5, ""), errHas: []string{"asks for 0.5 TPU chips", "whole number"}},
		{name: "negative", opts: tpuOpts(-4, ""), errHas: []string{"asks for -4 TPU chips"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, ok, err := GroupFor(tt.opts, groups)
			if len(tt.errHas) > 0 {
				if err == nil || ok {
					t.Fatalf("GroupFor = %q, %v, %v; want an error", g.Name, ok, err)
				}
				for _, s := range tt.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q does not contain %q", err, s)
					}
				}
				return
			}
			if err != nil {
				t.Fatalf("GroupFor: %v", err)
			}
			if ok != (tt.want != "") || g.Name != tt.want {
				t.Fatalf("GroupFor = %q, %v; want %q", g.Name, ok, tt.want)
			}
		})
	}
	if _, _, err := GroupFor(tpuOpts(4, ""), nil); err == nil || !strings.Contains(err.Error(), "no worker_groups") {
		t.Errorf("GroupFor without groups: %v", err)
	}
}

func TestValidatePlacement(t *testing.T) {
	const groups = `
worker_groups:
  - {name: tpu-group, accelerator: tpu-v4-podslice, topology: 2x2x1, chips_per_host: 4, replicas: 2}
  - {name: multi, accelerator: tpu-v4-podslice, topology: 2x2x2, chips_per_host: 4, replicas: 1}
`
	tests := []struct {
		name string
		yaml string
		want []string // "path: substring"
	}{
		{
			name: "fits",
			yaml: `
applications:
  - name: a
    deployments:
      - {name: cpu, replica: {command: [x]}}
      - {name: four, replica: {command: [x]}, ray_actor_options: {resources: {TPU: 4}}}
      - {name: eight, replica: {command: [x]}, ray_actor_options: {resources: {TPU: 8}, accelerator_type: TPU-V4}}
` + groups,
		},
		{
			name: "no group fits",
			yaml: `
applications:
  - name: a
    deployments:
      - {name: four, replica: {command: [x]}, ray_actor_options: {resources: {TPU: 4}}}
  - name: b
    route_prefix: /b
    deployments:
      - {name: cpu, replica: {command: [x]}}
      - {name: sixteen, replica: {command: [x]}, ray_actor_options: {resources: {TPU: 16}}}
      - {name: half, replica: {command: [x]}, ray_actor_options: {resources: {TPU: 1.5}}}
      - {name: v6e, replica: {command: [x]}, ray_actor_options: {resources: {TPU: 4}, accelerator_type: tpu-v6e-slice}}
      - {name: negative, replica: {command: [x]}, ray_actor_options: {resources: {TPU: -1}}}
` + groups,
			want: []string{
				"applications[1].deployments[1].ray_actor_options.resources.TPU: asks for TPU: 16, but no worker group has slices of exactly 16 chips",
				"applications[1].deployments[2].ray_actor_options.resources.TPU: asks for 1.5 TPU chips",
				`applications[1].deployments[3].ray_actor_options.accelerator_type: "tpu-v6e-slice" names no worker group's accelerator; worker_groups offer: tpu-group (tpu-v4-podslice 2x2x1: 4 chips, 1 host; 2 slices); multi`,
			},
		},
		{
			name: "no worker groups",
			yaml: `
applications:
  - name: a
    deployments:
      - {name: four, replica: {command: [x]}, ray_actor_options: {resources: {TPU: 4}}}
`,
			want: []string{"applications[0].deployments[0].ray_actor_options.resources.TPU: asks for TPU: 4, but there are no worker_groups"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Decoded without Validate, which is where the lead wires
			// ValidatePlacement in (and which refuses the negative count).
			var c Config
			if err := yaml.UnmarshalStrict([]byte(tt.yaml), &c); err != nil {
				t.Fatalf("decode: %v", err)
			}
			got := ValidatePlacement(&c)
			if len(got) != len(tt.want) {
				t.Fatalf("ValidatePlacement = %v, want %d problems", got, len(tt.want))
			}
			for i, w := range tt.want {
				if !strings.HasPrefix(got[i].String(), w) {
					t.Errorf("problem %d = %q, want prefix %q", i, got[i], w)
				}
			}
		})
	}
}

func TestDeploymentGroups(t *testing.T) {
	c := &Config{
		Applications: []Application{
			{Name: "a", Deployments: []Deployment{{Name: "cpu"}, {Name: "tpu", RayActorOptions: tpuOpts(8, "")}}},
			{Name: "b", Deployments: []Deployment{{Name: "tpu", RayActorOptions: tpuOpts(4, "")}, {Name: "none", RayActorOptions: tpuOpts(3, "")}}},
		},
		WorkerGroups: []WorkerGroup{testGroup("small", "tpu-v4-podslice", "2x2x1", 4, 1), testGroup("big", "tpu-v4-podslice", "2x2x2", 4, 1)},
	}
	got := DeploymentGroups(c)
	want := []*WorkerGroup{nil, &c.WorkerGroups[1], &c.WorkerGroups[0], nil}
	if !reflect.DeepEqual(got, want) || got[1] != &c.WorkerGroups[1] {
		t.Errorf("DeploymentGroups = %v, want %v", got, want)
	}
	if n := len(c.Specs("")); n != len(got) {
		t.Errorf("%d groups for %d specs", len(got), n)
	}
}

package config

import (
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func testGroup(name, accel, topology string, chipsPerHost, replicas int) WorkerGroup {
	return WorkerGroup{Name: name, Accelerator: accel, Topology: topology, ChipsPerHost: chipsPerHost, Replicas: replicas}
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

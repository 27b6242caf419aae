package config

import (
	"reflect"
	"testing"
)

// The same replicas give the same code version whether the config keeps
// its folder in BaseDir (gantry serve CONFIG) or was sent with the paths
// resolved against it and no BaseDir (gantry deploy CONFIG).
func TestCodeVersionIsTheSameHoweverTheConfigIsApplied(t *testing.T) {
	const doc = `
applications:
- deployments:
  - name: plain
    replica: {command: [gantry, example, painter]}
  - name: relative
    replica: {command: [./bin/server, --flag], working_dir: data}
  - name: bare
    replica: {command: [python3, app.py], env: {A: "1"}}
`
	served := mustParse(t, doc)
	served.BaseDir = "/srv/project"
	sent := mustParse(t, `
applications:
- deployments:
  - name: plain
    replica: {command: [gantry, example, painter], working_dir: /srv/project}
  - name: relative
    replica: {command: [/srv/project/bin/server, --flag], working_dir: /srv/project/data}
  - name: bare
    replica: {command: [python3, app.py], env: {A: "1"}, working_dir: /srv/project}
`)
	for i, s := range served.Specs(self) {
		d := sent.Specs(self)[i]
		if s.CodeVersion != d.CodeVersion {
			t.Errorf("%s: version %s served, %s sent resolved; changes %q", s.Name, s.CodeVersion, d.CodeVersion, d.Code.Changes(s.Code))
		}
		if !reflect.DeepEqual(s.Command, d.Command) || s.WorkingDir != d.WorkingDir {
			t.Errorf("%s: runs %q in %s served, %q in %s sent", s.Name, s.Command, s.WorkingDir, d.Command, d.WorkingDir)
		}
	}
	// Another folder is other code: the same relative command runs another file.
	moved := mustParse(t, doc)
	moved.BaseDir = "/srv/elsewhere"
	if got := moved.Specs(self)[1].Code.Changes(served.Specs(self)[1].Code); !reflect.DeepEqual(got, []string{"replica.command", "replica.working_dir"}) {
		t.Errorf("moving the config folder: changes %q, want the command and working_dir", got)
	}
}

func TestCodeChangesNameTheField(t *testing.T) {
	const was = `
applications:
- deployments:
  - name: d
    ray_actor_options: {num_cpus: 1, resources: {gpu_kind: 4}}
    replica: {command: [x, --a], env: {A: "1", B: "2"}}
`
	tests := []struct {
		name, now string
		want      []string
	}{
		{"nothing", was, nil},
		{"num_replicas and user_config", `
applications:
- deployments:
  - name: d
    num_replicas: 4
    user_config: {x: 1}
    ray_actor_options: {num_cpus: 1, resources: {gpu_kind: 4}}
    replica: {command: [x, --a], env: {B: "2", A: "1"}, protocol: http}
`, nil},
		{"one env variable changed, one added, one removed", `
applications:
- deployments:
  - name: d
    ray_actor_options: {num_cpus: 1, resources: {gpu_kind: 4}}
    replica: {command: [x, --a], env: {A: "9", C: "3"}}
`, []string{"replica.env.A", "replica.env.B", "replica.env.C"}},
		{"the command's arguments", `
applications:
- deployments:
  - name: d
    ray_actor_options: {num_cpus: 1, resources: {gpu_kind: 4}}
    replica: {command: [x, --b], env: {A: "1", B: "2"}}
`, []string{"replica.command"}},
		{"resources, image and protocol", `
applications:
- deployments:
  - name: d
    ray_actor_options: {num_cpus: 2, resources: {gpu_kind: 8}}
    replica: {command: [x, --a], env: {A: "1", B: "2"}, image: img:2, protocol: grpc}
`, []string{"ray_actor_options.num_cpus", "ray_actor_options.resources.gpu_kind", "replica.image", "replica.protocol"}},
		{"all of the env removed", `
applications:
- deployments:
  - name: d
    ray_actor_options: {num_cpus: 1, resources: {gpu_kind: 4}}
    replica: {command: [x, --a]}
`, []string{"replica.env.A", "replica.env.B"}},
	}
	before := mustParse(t, was).Specs(self)[0]
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			after := mustParse(t, tt.now).Specs(self)[0]
			got := after.Code.Changes(before.Code)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Changes = %q, want %q", got, tt.want)
			}
			if same := after.CodeVersion == before.CodeVersion; same != (len(tt.want) == 0) {
				t.Errorf("versions %s → %s, but changes %q", before.CodeVersion, after.CodeVersion, got)
			}
		})
	}
}

package config

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestPythonAppResolves(t *testing.T) {
	c, err := Parse([]byte(`
applications:
  - name: a
    import_path: app:deployment
    python: .venv
    runtime_env: {working_dir: src, env_vars: {MODEL: tiny}}
  - name: b
    route_prefix: /b
    import_path: app.deployment
`))
	if err != nil {
		t.Fatal(err)
	}
	a := c.Applications[0].PythonApp("/cfg")
	if a.Python != "/cfg/.venv" || a.WorkingDir != "/cfg/src" || a.Env["MODEL"] != "tiny" || a.ImportPath != "app:deployment" {
		t.Errorf("resolved %+v", a)
	}
	b := c.Applications[1].PythonApp("/cfg")
	if b.Python != DefaultPython || b.WorkingDir != "/cfg" || b.Env != nil {
		t.Errorf("defaults: %+v", b)
	}
	// gantry deploy sends the paths resolved; the gateway then runs the same.
	c.Applications[1].ResolvePythonPaths("/cfg")
	if got := c.Applications[1].PythonApp("").WorkingDir; got != "/cfg" {
		t.Errorf("after ResolvePythonPaths, working_dir = %q, want /cfg", got)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("resolved config is invalid: %v", err)
	}
	// Ray's local:// URI names a local folder.
	c.Applications[1].RuntimeEnv = map[string]any{"working_dir": "local:///srv/app"}
	if got := c.Applications[1].PythonApp("/cfg").WorkingDir; got != "/srv/app" {
		t.Errorf("local:///srv/app resolves to %q", got)
	}
	if err := c.Validate(); err != nil {
		t.Errorf("a local:// working_dir is refused: %v", err)
	}
}

func TestMergeDeployment(t *testing.T) {
	count := func(n int) *NumReplicas { return &NumReplicas{Count: n} }
	tests := []struct {
		name     string
		code     string
		override *Deployment
		check    func(t *testing.T, d Deployment)
		wantErr  string
	}{{
		name: "code only",
		code: `{"num_replicas": 2, "max_ongoing_requests": 8, "ray_actor_options": {"resources": {"TPU": 4}}}`,
		check: func(t *testing.T, d Deployment) {
			if d.NumReplicas.Count != 2 || *d.MaxOngoingRequests != 8 || d.RayActorOptions.Resources["TPU"] != 4 {
				t.Errorf("got %+v", d)
			}
		},
	}, {
		name:     "config wins field by field",
		code:     `{"num_replicas": 2, "max_ongoing_requests": 8, "user_config": {"a": 1}}`,
		override: &Deployment{Name: "M", NumReplicas: count(3), UserConfig: json.RawMessage(`{"b":2}`)},
		check: func(t *testing.T, d Deployment) {
			if d.NumReplicas.Count != 3 || *d.MaxOngoingRequests != 8 || string(d.UserConfig) != `{"b":2}` {
				t.Errorf("got %+v (user_config %s)", d, d.UserConfig)
			}
		},
	}, {
		name:     "a count in the config drops the code's autoscaling",
		code:     `{"autoscaling_config": {"min_replicas": 1, "max_replicas": 4}}`,
		override: &Deployment{Name: "M", NumReplicas: count(2)},
		check: func(t *testing.T, d Deployment) {
			if d.AutoscalingConfig != nil || d.NumReplicas.Count != 2 {
				t.Errorf("got %+v", d)
			}
		},
	}, {
		name:     "autoscaling in the config drops the code's count",
		code:     `{"num_replicas": 2}`,
		override: &Deployment{Name: "M", AutoscalingConfig: &AutoscalingConfig{MaxReplicas: newPtr(3)}},
		check: func(t *testing.T, d Deployment) {
			if d.NumReplicas != nil || *d.AutoscalingConfig.MaxReplicas != 3 {
				t.Errorf("got %+v", d)
			}
		},
	}, {
		name:    "unknown option in code",
		code:    `{"num_replicas": 1, "max_concurrent_queries": 3}`,
		wantErr: `deployment "M" (options set in code).max_concurrent_queries: unknown field`,
	}, {
		name:    "bad value in code",
		code:    `{"max_ongoing_requests": 0}`,
		wantErr: `deployment "M".max_ongoing_requests: must be >= 1, got 0`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := MergeDeployment("M", json.RawMessage(tt.code), tt.override)
			if tt.wantErr != "" {
				var ce *Error
				if !errors.As(err, &ce) || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d.Name != "M" || d.Replica != nil {
				t.Errorf("name %q replica %v", d.Name, d.Replica)
			}
			tt.check(t, d)
		})
	}
}

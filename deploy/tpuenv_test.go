package deploy

import (
	"gantry.dev/gantry/deploy/config"
	"reflect"
	"testing"
)

// TestTPUEnv checks the member environments against the KubeRay TPU
// webhook's rules for the reference topologies
// (shared/reference/kuberay-gke.md section 3).
func TestTPUEnv(t *testing.T) {
	tests := []struct {
		name   string
		group  config.WorkerGroup
		slice  int
		domain string
		chips  int
		want   []map[string]string
	}{
		{
			name:  "v4 2x2x1, 4 chips per host: 1 host, no hostnames",
			group: config.WorkerGroup{Name: "tpu-group", Accelerator: "tpu-v4-podslice", Topology: "2x2x1", ChipsPerHost: 4, Replicas: 2},
			slice: 1,
			chips: 4,
			want: []map[string]string{
				{"TPU_WORKER_ID": "0", "TPU_NAME": "tpu-group-1", "GANTRY_REPLICA_INDEX": "1"},
			},
		},
		{
			name:  "v4 2x2x2, 4 chips per host: 2 hosts",
			group: config.WorkerGroup{Name: "v4", Accelerator: "tpu-v4-podslice", Topology: "2x2x2", ChipsPerHost: 4, Replicas: 2},
			slice: 0,
			chips: 8,
			want: []map[string]string{
				{"TPU_WORKER_ID": "0", "TPU_NAME": "v4-0", "GANTRY_REPLICA_INDEX": "0", "TPU_WORKER_HOSTNAMES": "v4-0-0,v4-0-1"},
				{"TPU_WORKER_ID": "1", "TPU_NAME": "v4-0", "GANTRY_REPLICA_INDEX": "0", "TPU_WORKER_HOSTNAMES": "v4-0-0,v4-0-1"},
			},
		},
		{
			name:  "v5e 2x4, 8 chips per host: 1 host",
			group: config.WorkerGroup{Name: "v5e", Accelerator: "tpu-v5-lite-podslice", Topology: "2x4", ChipsPerHost: 8, Replicas: 1},
			slice: 0,
			chips: 8,
			want: []map[string]string{
				{"TPU_WORKER_ID": "0", "TPU_NAME": "v5e-0", "GANTRY_REPLICA_INDEX": "0"},
			},
		},
		{
			name:  "v6e 4x4, 4 chips per host: 4 hosts",
			group: config.WorkerGroup{Name: "v6e", Accelerator: "tpu-v6e-slice", Topology: "4x4", ChipsPerHost: 4, Replicas: 3},
			slice: 2,
			chips: 16,
			want: func() []map[string]string {
				const names = "v6e-2-0,v6e-2-1,v6e-2-2,v6e-2-3"
				return []map[string]string{
					{"TPU_WORKER_ID": "0", "TPU_NAME": "v6e-2", "GANTRY_REPLICA_INDEX": "2", "TPU_WORKER_HOSTNAMES": names},
					{"TPU_WORKER_ID": "1", "TPU_NAME": "v6e-2", "GANTRY_REPLICA_INDEX": "2", "TPU_WORKER_HOSTNAMES": names},
					{"TPU_WORKER_ID": "2", "TPU_NAME": "v6e-2", "GANTRY_REPLICA_INDEX": "2", "TPU_WORKER_HOSTNAMES": names},
					{"TPU_WORKER_ID": "3", "TPU_NAME": "v6e-2", "GANTRY_REPLICA_INDEX": "2", "TPU_WORKER_HOSTNAMES": names},
				}
			}(),
		},
		{
			name:   "worked example: cluster rc, group tpu, 2 hosts, slice 1",
			group:  config.WorkerGroup{Name: "tpu", Accelerator: "tpu-v4-podslice", Topology: "2x2x2", ChipsPerHost: 4, Replicas: 2},
			slice:  1,
			domain: "rc-headless",
			chips:  8,
			want: []map[string]string{
				{"TPU_WORKER_ID": "0", "TPU_NAME": "tpu-1", "GANTRY_REPLICA_INDEX": "1", "TPU_WORKER_HOSTNAMES": "tpu-1-0.rc-headless,tpu-1-1.rc-headless"},
				{"TPU_WORKER_ID": "1", "TPU_NAME": "tpu-1", "GANTRY_REPLICA_INDEX": "1", "TPU_WORKER_HOSTNAMES": "tpu-1-0.rc-headless,tpu-1-1.rc-headless"},
			},
		},
		{
			name:  "worked example on the local backend: bare hostnames",
			group: config.WorkerGroup{Name: "tpu", Accelerator: "tpu-v4-podslice", Topology: "2x2x2", ChipsPerHost: 4, Replicas: 2},
			slice: 1,
			chips: 8,
			want: []map[string]string{
				{"TPU_WORKER_ID": "0", "TPU_NAME": "tpu-1", "GANTRY_REPLICA_INDEX": "1", "TPU_WORKER_HOSTNAMES": "tpu-1-0,tpu-1-1"},
				{"TPU_WORKER_ID": "1", "TPU_NAME": "tpu-1", "GANTRY_REPLICA_INDEX": "1", "TPU_WORKER_HOSTNAMES": "tpu-1-0,tpu-1-1"},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.group.Chips(); got != tt.chips {
				t.Fatalf("Chips() = %d, want %d", got, tt.chips)
			}
			if got := tt.group.Hosts(); got != len(tt.want) {
				t.Fatalf("Hosts() = %d, want %d", got, len(tt.want))
			}
			got := TPUEnvWithDomain(tt.group.Name, tt.slice, tt.group.Hosts(), tt.domain)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("TPUEnvWithDomain(%q, %d, %d, %q) =\n%v\nwant\n%v", tt.group.Name, tt.slice, tt.group.Hosts(), tt.domain, got, tt.want)
			}
			if tt.domain == "" {
				if plain := TPUEnv(tt.group.Name, tt.slice, tt.group.Hosts()); !reflect.DeepEqual(plain, got) {
					t.Errorf("TPUEnv = %v, want %v", plain, got)
				}
			}
		})
	}
}

func TestTPUEnvEdges(t *testing.T) {
	// Fewer than one host counts as one, as in the webhook.
	want := []map[string]string{{"TPU_WORKER_ID": "0", "TPU_NAME": "g-0", "GANTRY_REPLICA_INDEX": "0"}}
	if got := TPUEnv("g", 0, 0); !reflect.DeepEqual(got, want) {
		t.Errorf("TPUEnv(g, 0, 0) = %v, want %v", got, want)
	}
	// A single host gets no TPU_WORKER_HOSTNAMES, domain or not.
	if got := TPUEnvWithDomain("g", 0, 1, "rc-headless"); !reflect.DeepEqual(got, want) {
		t.Errorf("TPUEnvWithDomain(g, 0, 1, rc-headless) = %v, want %v", got, want)
	}
	// Every member gets a map of its own.
	env := TPUEnv("g", 0, 2)
	env[0]["X"] = "1"
	if _, ok := env[1]["X"]; ok {
		t.Error("members share a map")
	}
	if got := TPUHostname("tpu-group", 3, 1); got != "tpu-group-3-1" {
		t.Errorf("TPUHostname = %q", got)
	}
	if got := TPUName("tpu-group", 3); got != "tpu-group-3" {
		t.Errorf("TPUName = %q", got)
	}
}

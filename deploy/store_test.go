package deploy

import (
	"gantry.dev/gantry/deploy/config"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStoreRoundTripKeepsBaseDirAndSpecs(t *testing.T) {
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "serve.yaml")
	os.WriteFile(cfgPath, []byte(`
applications:
- name: app
  route_prefix: /app
  deployments:
  - name: d
    num_replicas: 3
    user_config: {steps: 4}
    replica: {command: [./bin/model, --fast], env: {A: "1"}}
`), 0o644)
	cfg, err := config.LoadFile(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{Path: filepath.Join(dir, "state", "applied.json")}
	if got, err := s.Load(); got != nil || err != nil {
		t.Fatalf("empty store: %v, %v", got, err)
	}
	if err := s.Save(cfg, time.Unix(100, 0)); err != nil {
		t.Fatal(err)
	}
	back, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	want, got := cfg.Specs("/gantry"), back.Specs("/gantry")
	if changed(want, got) {
		t.Fatalf("specs differ after a round trip:\nsaved  %+v\nloaded %+v", want, got)
	}
	if got[0].Command[0] != filepath.Join(dir, "bin", "model") {
		t.Fatalf("relative command resolved to %q", got[0].Command[0])
	}
	if entries, _ := os.ReadDir(filepath.Dir(s.Path)); len(entries) != 1 {
		t.Fatalf("state dir holds %d files, want only applied.json", len(entries))
	}
}

func TestStoreRefusesACorruptFile(t *testing.T) {
	s := &Store{Path: filepath.Join(t.TempDir(), "applied.json")}
	os.WriteFile(s.Path, []byte("{not json"), 0o644)
	if _, err := s.Load(); err == nil {
		t.Fatal("corrupt file loaded")
	}
}

func TestStoreForgetsAnEmptyConfig(t *testing.T) {
	cfg, err := config.Parse([]byte("applications: [{name: a, deployments: [{name: d, replica: {command: [x]}}]}]"))
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{Path: filepath.Join(t.TempDir(), "applied.json")}
	if err := s.Save(cfg, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	if err := s.Save(&config.Config{}, time.Unix(2, 0)); err != nil { // everything deleted
		t.Fatal(err)
	}
	if got, err := s.Load(); got != nil || err != nil {
		t.Fatalf("after deleting everything, Load = %v, %v; want nothing to restore", got, err)
	}
}

package deploy

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/deploy/config"
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

// TestStoreWritesCompactJSON saves a config whose user_config is as deep as
// allowed: the file must grow linearly with the config (finding 4: an
// indented applied.json grew with the square of the nesting depth), keep
// one application per line, and load back.
func TestStoreWritesCompactJSON(t *testing.T) {
	deep := strings.Repeat(`{"a":`, config.MaxUserConfigDepth) + "1" + strings.Repeat("}", config.MaxUserConfigDepth)
	doc := `{"applications":[` +
		`{"name":"a","route_prefix":"/a","deployments":[{"name":"d","replica":{"command":["x"]},"user_config":` + deep + `}]},` +
		`{"name":"b","route_prefix":"/b","deployments":[{"name":"d","replica":{"command":["x"]},"user_config":` + deep + `}]}]}`
	cfg, err := config.Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	s := &Store{Path: filepath.Join(t.TempDir(), "applied.json")}
	if err := s.Save(cfg, time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(s.Path)
	if err != nil {
		t.Fatal(err)
	}
	if len(data) > 2*len(doc) {
		t.Errorf("applied.json is %d bytes for a %d-byte config; want it compact (at most twice the config)", len(data), len(doc))
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	var appLines int
	for _, l := range lines {
		if strings.HasPrefix(l, `{"name":`) {
			appLines++
		}
	}
	if appLines != 2 {
		t.Errorf("applied.json has %d lines that start an application, want 2:\n%s", appLines, data)
	}
	back, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Applications, cfg.Applications) {
		t.Errorf("applications differ after a round trip")
	}
}

package deploy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	"gantry.dev/gantry/deploy/config"
)

// Store keeps the applied config in a file, so that a restarted gateway
// brings its applications back. Writes are atomic: a crash leaves either
// the old file or the new one.
type Store struct {
	// Path is the file, e.g. <state-dir>/applied.json.
	Path string
}

// stored is the file's content. BaseDir travels with the config because
// relative replica commands resolve against it.
type stored struct {
	AppliedAt time.Time       `json:"applied_at"`
	BaseDir   string          `json:"base_dir,omitempty"`
	Config    json.RawMessage `json:"config"`
}

// appliedJSON is the file's text: compact JSON, so that its size is linear
// in the config's (indentation grows with depth: a 60 KB user_config nested
// 9,990 levels once made a 200 MB file), with the config's top-level
// fields and each application on a line of its own so that it stays
// readable.
func appliedJSON(st stored) ([]byte, error) {
	var fields map[string]json.RawMessage
	var apps []json.RawMessage
	if err := json.Unmarshal(st.Config, &fields); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(fields["applications"], &apps); err != nil {
		return nil, err
	}
	head, err := json.Marshal(stored{AppliedAt: st.AppliedAt, BaseDir: st.BaseDir, Config: json.RawMessage("{}")})
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.Write(bytes.TrimSuffix(head, []byte("{}}")))
	b.WriteString("{\n")
	keys := slices.Sorted(maps.Keys(fields))
	for i, k := range keys {
		name, _ := json.Marshal(k)
		b.Write(name)
		b.WriteByte(':')
		if k == "applications" {
			b.WriteString("[\n")
			for j, a := range apps {
				b.Write(a)
				if j < len(apps)-1 {
					b.WriteByte(',')
				}
				b.WriteByte('\n')
			}
			b.WriteByte(']')
		} else {
			b.Write(fields[k])
		}
		if i < len(keys)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}}")
	return b.Bytes(), nil
}

// Save writes cfg as the applied config. A config with no applications
// (after DELETE /api/serve/applications/) leaves nothing to restore, so the
// file is removed.
func (s *Store) Save(cfg *config.Config, now time.Time) error {
	if len(cfg.Applications) == 0 {
		if err := os.Remove(s.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing applied config: %w", err)
		}
		return nil
	}
	raw, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("saving applied config: %w", err)
	}
	data, err := appliedJSON(stored{AppliedAt: now.UTC(), BaseDir: cfg.BaseDir, Config: raw})
	if err != nil {
		return fmt.Errorf("saving applied config: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(s.Path), 0o755); err != nil {
		return fmt.Errorf("saving applied config: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.Path), ".applied-*.json")
	if err != nil {
		return fmt.Errorf("saving applied config: %w", err)
	}
	defer os.Remove(tmp.Name()) // after a successful rename this fails harmlessly
	_, err = tmp.Write(append(data, '\n'))
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.Path)
	}
	if err != nil {
		return fmt.Errorf("saving applied config to %s: %w", s.Path, err)
	}
	return nil
}

// Load returns the applied config, or nil if none was saved.
func (s *Store) Load() (*config.Config, error) {
	data, err := os.ReadFile(s.Path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading applied config: %w", err)
	}
	var st stored
	if err := json.Unmarshal(data, &st); err != nil {
		return nil, fmt.Errorf("reading applied config %s: %w", s.Path, err)
	}
	cfg, err := config.Parse(st.Config)
	if err != nil {
		return nil, fmt.Errorf("applied config %s is no longer valid:\n%w", s.Path, err)
	}
	cfg.BaseDir = st.BaseDir
	return cfg, nil
}

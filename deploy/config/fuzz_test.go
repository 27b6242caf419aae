package config

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds Parse arbitrary documents, seeded with every file in
// testdata. Parse must never panic; it either fails with a *Error whose
// problems all say something, or returns a config that validates, gives
// its specs, and comes back unchanged through JSON (what the state dir's
// applied.json does with it).
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob("testdata/*")
	if err != nil {
		f.Fatal(err)
	}
	for _, path := range files {
		data, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Parse failed with a %T, not a *Error: %v", err, err)
			}
			if len(ce.Problems) == 0 {
				t.Fatal("Parse failed with a *Error that lists no problem")
			}
			for _, p := range ce.Problems {
				if p.Message == "" {
					t.Fatalf("problem at %q has no message", p.Path)
				}
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse accepted a config that Validate rejects:\n%v", err)
		}
		c.Specs("/opt/gantry/bin/gantry")
		out, err := json.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal of a parsed config: %v", err)
		}
		back, err := Parse(out)
		if err != nil {
			t.Fatalf("a parsed config does not parse again from its JSON %s:\n%v", out, err)
		}
		again, err := json.Marshal(back)
		if err != nil || string(again) != string(out) {
			t.Fatalf("a parsed config changes through JSON:\nfirst  %s\nsecond %s (%v)", out, again, err)
		}
	})
}

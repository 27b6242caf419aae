package config

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

const self = "/opt/gantry/bin/gantry"

// expectations reads what a bad file must report: "# want: TEXT" and
// "# problems: N" comment lines at the top of a YAML file, or the lines
// "TEXT" and "problems: N" of a sibling NAME.want file (for JSON, which has
// no comments). N < 0 means the count is not checked.
func expectations(t *testing.T, path string) (wants []string, count int) {
	t.Helper()
	count = -1
	prefix := "# "
	data, err := os.ReadFile(path)
	if want := strings.TrimSuffix(path, filepath.Ext(path)) + ".want"; err == nil && !strings.HasSuffix(path, ".yaml") {
		if data, err = os.ReadFile(want); err != nil {
			t.Fatalf("%s needs its expectations in %s: %v", path, want, err)
		}
		prefix = ""
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if prefix != "" && !strings.HasPrefix(line, prefix) {
			break // expectations are the first comment lines
		}
		line = strings.TrimPrefix(line, prefix)
		if n, ok := strings.CutPrefix(line, "problems: "); ok {
			if count, err = strconv.Atoi(n); err != nil {
				t.Fatalf("%s: bad problem count %q", path, n)
			}
		} else if w, ok := strings.CutPrefix(line, "want: "); ok {
			wants = append(wants, w)
		} else if prefix == "" && strings.TrimSpace(line) != "" {
			wants = append(wants, line)
		}
	}
	return wants, count
}

func TestTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/*")
	if err != nil {
		t.Fatal(err)
	}
	var good, bad int
	for _, path := range files {
		name := filepath.Base(path)
		switch {
		case strings.HasSuffix(name, ".good.yaml"), strings.HasSuffix(name, ".good.json"):
			good++
			t.Run(name, func(t *testing.T) {
				c, err := LoadFile(path)
				if err != nil {
					t.Fatalf("unexpected error:\n%v", err)
				}
				if len(c.Specs(self)) == 0 {
					t.Error("no deployments")
				}
			})
		case strings.HasSuffix(name, ".bad.yaml"), strings.HasSuffix(name, ".bad.json"):
			bad++
			t.Run(name, func(t *testing.T) {
				wants, count := expectations(t, path)
				if len(wants) == 0 {
					t.Fatal("no expectations: add '# want: path: message' lines")
				}
				_, err := LoadFile(path)
				var ce *Error
				if !errors.As(err, &ce) {
					t.Fatalf("want a *Error, got %T: %v", err, err)
				}
				for _, w := range wants {
					if !anyProblemContains(ce, w) {
						t.Errorf("missing problem %q; got:\n%v", w, err)
					}
				}
				if count >= 0 && len(ce.Problems) != count {
					t.Errorf("got %d problems, want %d:\n%v", len(ce.Problems), count, err)
				}
			})
		}
	}
	if good < 3 || bad < 18 {
		t.Errorf("testdata has %d good and %d bad files; want at least 3 and 18", good, bad)
	}
}

func anyProblemContains(ce *Error, want string) bool {
	for _, p := range ce.Problems {
		if strings.Contains(p.String(), want) {
			return true
		}
	}
	return false
}

func mustLoad(t *testing.T, path string) *Config {
	t.Helper()
	c, err := LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustParse(t *testing.T, doc string) *Config {
	t.Helper()
	c, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse:\n%v", err)
	}
	return c
}

func TestNumReplicasJSON(t *testing.T) {
	for _, tc := range []struct {
		n    NumReplicas
		json string
	}{{NumReplicas{Auto: true}, `"auto"`}, {NumReplicas{Count: 3}, `3`}, {NumReplicas{}, `0`}} {
		b, err := json.Marshal(tc.n)
		if err != nil || string(b) != tc.json {
			t.Errorf("Marshal(%+v) = %s, %v; want %s", tc.n, b, err, tc.json)
		}
		var back NumReplicas
		if err := json.Unmarshal(b, &back); err != nil || back != tc.n {
			t.Errorf("Unmarshal(%s) = %+v, %v; want %+v", b, back, err, tc.n)
		}
	}
	d := Deployment{Name: "d", NumReplicas: AutoReplicas()}
	b, _ := json.Marshal(d)
	if !strings.Contains(string(b), `"num_replicas":"auto"`) {
		t.Errorf("Deployment JSON %s lacks num_replicas auto", b)
	}
	for _, bad := range []string{`"three"`, `"AUTO"`, `1.5`, `true`, `[1]`, `{}`} {
		var n NumReplicas
		err := json.Unmarshal([]byte(bad), &n)
		if err == nil || !strings.Contains(err.Error(), `must be an integer or "auto"`) {
			t.Errorf("Unmarshal(%s): error %v; want one saying integer or \"auto\"", bad, err)
		}
	}
	n := NumReplicas{Count: 2}
	if err := json.Unmarshal([]byte(`null`), &n); err != nil || n.Count != 2 {
		t.Errorf("null changed %+v (%v)", n, err)
	}
}

func TestRoundTrip(t *testing.T) {
	c := mustLoad(t, "testdata/full.good.yaml")
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"route_prefix":null`) {
		t.Errorf("explicit null route_prefix lost: %s", b)
	}
	if strings.Contains(string(b), "BaseDir") || strings.Contains(string(b), "RoutePrefixNull") {
		t.Errorf("internal fields in JSON: %s", b)
	}
	back, err := Parse(b)
	if err != nil {
		t.Fatalf("re-parse of marshalled config:\n%v", err)
	}
	if _, exposed := back.Applications[1].Route(); exposed {
		t.Error("re-parsed internal application is exposed")
	}
	back.BaseDir = c.BaseDir
	if !reflect.DeepEqual(back.Specs(self), c.Specs(self)) {
		t.Error("specs differ after a JSON round trip")
	}
	var plain Config
	if err := json.Unmarshal(b, &plain); err != nil {
		t.Fatal(err)
	}
	if _, exposed := plain.Applications[1].Route(); exposed {
		t.Error("json.Unmarshal lost route_prefix: null")
	}
}

func TestValidateBuiltConfig(t *testing.T) {
	var c Config
	err := c.Validate()
	var ce *Error
	if !errors.As(err, &ce) || ce.Error() != "applications: at least one application is required" {
		t.Fatalf("empty config: %v", err)
	}
	c.Applications = []Application{{Deployments: []Deployment{{Name: "d", NumReplicas: Replicas(2), Replica: &ReplicaConfig{Command: []string{"x"}}}}}}
	if err := c.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
}

func TestErrorFormat(t *testing.T) {
	e := &Error{Problems: []Problem{{"a.b", "must be >= 1, got 0"}, {"", "not valid YAML or JSON: x"}}}
	if got, want := e.Error(), "a.b: must be >= 1, got 0\nnot valid YAML or JSON: x"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile("testdata/does-not-exist.yaml")
	var ce *Error
	if !errors.Is(err, fs.ErrNotExist) || errors.As(err, &ce) {
		t.Errorf("missing file: got %T %v; want a not-exist error", err, err)
	}
}

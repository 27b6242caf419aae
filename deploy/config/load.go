package config

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"

	"sigs.k8s.io/yaml"
)

// Problem is one thing wrong with a config.
type Problem struct {
	// Path locates the offending value, e.g.
	// "applications[0].deployments[1].max_ongoing_requests"; empty for the
	// document as a whole.
	Path string
	// Message says what is allowed and what was given.
	Message string
}

// String returns "path: message" (just the message when Path is empty).
func (p Problem) String() string {
	if p.Path == "" {
		return p.Message
	}
	return p.Path + ": " + p.Message
}

// Error lists every problem found in a config, in document order
// (schema problems — unknown fields, wrong types — before the rest).
type Error struct {
	Problems []Problem
}

// Error returns one problem per line, each "path: message".
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Parse decodes a YAML or JSON config, rejects unknown fields (every one,
// with its path) and values of the wrong type, and validates the rest. Every
// problem found is reported in one *Error. The returned Config is as
// written: defaults are applied by Specs and the listener methods, not
// stored. BaseDir is left empty; see LoadFile.
func Parse(data []byte) (*Config, error) {
	return parse(data, lineNumber)
}

// parse is Parse with syntax errors' lines described by where.
func parse(data []byte, where func(line int) string) (*Config, error) {
	tree, err := decodeTree(data, where)
	if err != nil {
		return nil, err
	}
	if p, ok := kubernetesResource(tree); ok {
		return nil, &Error{Problems: []Problem{p}}
	}
	var w schemaWalker
	if !w.walk("", tree, reflect.TypeFor[Config]()) {
		return nil, &Error{Problems: w.problems}
	}
	// The walk removed what does not fit the schema, so this decode cannot
	// fail on a type; what is left is validated as usual.
	clean, err := json.Marshal(tree)
	if err != nil {
		return nil, &Error{Problems: append(w.problems, Problem{Message: "internal error: " + err.Error()})}
	}
	var c Config
	if err := json.Unmarshal(clean, &c); err != nil {
		return nil, &Error{Problems: append(w.problems, Problem{Message: "internal error: " + err.Error()})}
	}
	problems := w.problems
	for _, p := range c.problems() {
		if !underAny(p.Path, w.problems) {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		return nil, &Error{Problems: problems}
	}
	return &c, nil
}

// decodeTree decodes a YAML or JSON document into maps, lists, strings,
// json.Numbers, booleans and nils, and rejects one nested deeper than
// MaxDocumentDepth (the YAML library itself stops at 10,000 levels, so
// decoding is bounded).
func decodeTree(data []byte, where func(line int) string) (any, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, syntaxError(err, data, where)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, syntaxError(err, data, where)
	}
	if p, deep := depthProblem(tree); deep {
		return nil, &Error{Problems: []Problem{p}}
	}
	return tree, nil
}

// LoadFile reads and parses the config file at path and sets BaseDir to the
// file's folder (absolute), which relative replica commands and working
// directories resolve against. A file that cannot be read gives the
// *fs.PathError; an invalid one a *Error.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Parse(data)
	if err != nil {
		return nil, err
	}
	dir, err := filepath.Abs(filepath.Dir(path))
	if err != nil {
		return nil, err
	}
	c.BaseDir = dir
	return c, nil
}

// underAny reports whether path is one of the problems' paths or lies
// below one: a value the schema walk already rejected and removed, whose
// absence validation would otherwise report a second time.
func underAny(path string, problems []Problem) bool {
	for _, p := range problems {
		if p.Path == "" || path == p.Path ||
			strings.HasPrefix(path, p.Path+".") || strings.HasPrefix(path, p.Path+"[") {
			return true
		}
	}
	return false
}

// applicationJSON is Application without its methods.
type applicationJSON Application

// MarshalJSON writes the application; an explicit null route_prefix
// (RoutePrefixNull) is written as null.
func (a Application) MarshalJSON() ([]byte, error) {
	if !a.RoutePrefixNull || a.RoutePrefix != nil {
		return json.Marshal(applicationJSON(a))
	}
	return json.Marshal(struct {
		applicationJSON
		RoutePrefix *string `json:"route_prefix"`
	}{applicationJSON: applicationJSON(a)})
}

// UnmarshalJSON reads the application and records an explicit
// `route_prefix: null` in RoutePrefixNull.
func (a *Application) UnmarshalJSON(b []byte) error {
	if string(bytes.TrimSpace(b)) == "null" {
		return nil
	}
	var v applicationJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	var probe struct {
		RoutePrefix json.RawMessage `json:"route_prefix"`
	}
	if err := json.Unmarshal(b, &probe); err != nil {
		return err
	}
	v.RoutePrefixNull = v.RoutePrefix == nil && string(bytes.TrimSpace(probe.RoutePrefix)) == "null"
	*a = Application(v)
	return nil
}

// pathField returns the path of a field below path.
func pathField(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

// pathIndex returns the path of element i of the list at path.
func pathIndex(path string, i int) string { return path + "[" + strconv.Itoa(i) + "]" }

// pathKey returns the path of a map entry: path.key, or path["odd key"] when
// the key is not a plain name.
func pathKey(path, k string) string {
	plain := k != ""
	for _, r := range k {
		if !(r == '_' || r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
			plain = false
			break
		}
	}
	if plain {
		return pathField(path, k)
	}
	return path + "[" + strconv.Quote(k) + "]"
}

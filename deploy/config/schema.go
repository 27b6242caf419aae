package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
)

var (
	rawMessageType  = reflect.TypeFor[json.RawMessage]()
	numReplicasType = reflect.TypeFor[NumReplicas]()
)

// rayOnlyFields are Ray Serve fields Gantry does not accept; an unknown-field
// problem about one says so rather than suggesting a typo.
var rayOnlyFields = map[string]bool{
	"target_capacity": true, "placement_group_bundles": true, "placement_group_strategy": true,
	"max_replicas_per_node": true, "request_router_config": true, "autoscaling_policy": true,
	"external_scaler_enabled": true, "policy": true, "additional_log_standard_attrs": true,
	"ssl_keyfile": true, "ssl_certfile": true, "ssl_keyfile_password": true, "ssl_ca_certs": true,
	"rolling_update_percentage": true, "host": true, "port": true,
}

// schemaWalker checks a decoded JSON tree (json.Number for numbers) against
// the Go types of the config. It reports every unknown field and every value
// of the wrong type with its path, and removes them from the tree so the rest
// can still be decoded and validated. Known field names come from the json
// tags, so they never drift from the types.
type schemaWalker struct {
	problems []Problem
}

func (w *schemaWalker) addf(path, format string, args ...any) {
	w.problems = append(w.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// walk checks v against t and reports whether v fits; the caller removes a
// value that does not. null fits everything: it means "unset".
func (w *schemaWalker) walk(path string, v any, t reflect.Type) bool {
	if v == nil {
		return true
	}
	switch t {
	case rawMessageType:
		return true // user_config: any JSON
	case numReplicasType:
		if s, ok := v.(string); ok && s == numReplicasAuto {
			return true
		}
		if n, ok := v.(json.Number); ok {
			if _, err := strconv.ParseInt(n.String(), 10, strconv.IntSize); err == nil {
				return true
			}
		}
		return w.typeError(path, `an integer or "auto"`, v)
	}
	switch t.Kind() {
	case reflect.Pointer:
		return w.walk(path, v, t.Elem())
	case reflect.Interface:
		return true
	case reflect.Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return w.typeError(path, "an object", v)
		}
		w.object(path, m, t)
		return true
	case reflect.Slice:
		l, ok := v.([]any)
		if !ok {
			return w.typeError(path, "a list", v)
		}
		for i, e := range l {
			if !w.walk(pathIndex(path, i), e, t.Elem()) {
				l[i] = nil // keep the indices of the elements after it
			}
		}
		return true
	case reflect.Map:
		m, ok := v.(map[string]any)
		if !ok {
			return w.typeError(path, "an object", v)
		}
		for _, k := range keysSorted(m) {
			if !w.walk(pathKey(path, k), m[k], t.Elem()) {
				delete(m, k)
			}
		}
		return true
	case reflect.String:
		if _, ok := v.(string); ok {
			return true
		}
		if _, isMap := v.(map[string]any); !isMap {
			if _, isList := v.([]any); !isList {
				hint := fmt.Sprintf("quote it: \"%v\"", v)
				if _, isBool := v.(bool); isBool {
					hint = "quote the value: YAML reads unquoted true/false/yes/no/on/off as booleans"
				}
				w.addf(path, "expected a string, got %s (%s)", describeJSON(v), hint)
				return false
			}
		}
		return w.typeError(path, "a string", v)
	case reflect.Bool:
		if _, ok := v.(bool); ok {
			return true
		}
		return w.typeError(path, "true or false", v)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, ok := v.(json.Number)
		if !ok {
			return w.typeError(path, "an integer", v)
		}
		if _, err := strconv.ParseInt(n.String(), 10, t.Bits()); err != nil {
			if errors.Is(err, strconv.ErrRange) {
				w.addf(path, "expected an integer, got number %s, which is out of range", n)
				return false
			}
			return w.typeError(path, "an integer", v)
		}
		return true
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); ok {
			return true
		}
		return w.typeError(path, "a number", v)
	}
	w.addf(path, "internal error: no schema check for Go type %s", t)
	return false
}

// object checks the fields of m against struct type t: first the unknown
// ones, then each known one in declaration order.
func (w *schemaWalker) object(path string, m map[string]any, t reflect.Type) {
	fields := jsonFields(t)
	names := make([]string, 0, len(fields))
	for _, f := range fields {
		names = append(names, f.name)
	}
	for _, k := range keysSorted(m) {
		if slices.Contains(names, k) {
			continue
		}
		hint := ""
		if s := closestName(k, names); s != "" {
			hint = fmt.Sprintf(" (did you mean %q?)", s)
		} else if rayOnlyFields[k] {
			hint = " (a Ray Serve field Gantry does not support)"
		}
		w.addf(pathKey(path, k), "unknown field%s; allowed fields here: %s", hint, strings.Join(names, ", "))
		delete(m, k)
	}
	for _, f := range fields {
		if v, ok := m[f.name]; ok && !w.walk(pathField(path, f.name), v, f.typ) {
			delete(m, f.name)
		}
	}
}

// typeError reports a value of the wrong type and returns false.
func (w *schemaWalker) typeError(path, want string, v any) bool {
	w.addf(path, "expected %s, got %s", want, describeJSON(v))
	return false
}

// schemaField is one JSON field of a struct.
type schemaField struct {
	name string
	typ  reflect.Type
}

// jsonFields lists the fields encoding/json reads for struct type t, in
// declaration order.
func jsonFields(t reflect.Type) []schemaField {
	var out []schemaField
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, schemaField{name: name, typ: f.Type})
	}
	return out
}

// describeJSON names a decoded JSON value for an error message.
func describeJSON(v any) string {
	switch v := v.(type) {
	case string:
		return "string " + strconv.Quote(truncateMsg(v, 40))
	case json.Number:
		return "number " + v.String()
	case bool:
		return strconv.FormatBool(v)
	case []any:
		return "a list"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}

func keysSorted[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// closestName returns the name within a small edit distance of s (ignoring
// case), or "".
func closestName(s string, names []string) string {
	best, bestD := "", min(3, len(s)/3+1)
	for _, n := range names {
		if d := editDistance(strings.ToLower(s), n); d < bestD {
			best, bestD = n, d
		}
	}
	return best
}

// editDistance is the optimal string alignment distance between a and b:
// insertions, deletions, substitutions and swaps of neighbours cost 1.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

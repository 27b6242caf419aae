package config

import (
	"fmt"
	"strings"
)

// Nesting limits. Ray Serve and KServe set none; the YAML library and
// encoding/json stop at 10,000 levels, and parsing a document that deep
// costs about 20 MB, which these limits keep from going further (copies of
// user_config in applied.json, environment variables and reconfigure
// requests). Python's json module and serde_json (128 levels) read every
// user_config within MaxUserConfigDepth.
const (
	// MaxUserConfigDepth is how deeply a deployment's user_config may nest
	// lists and objects: {"a": {"b": 1}} is 2 levels, a scalar 0.
	MaxUserConfigDepth = 64
	// MaxDocumentDepth is how deeply a whole config document may nest:
	// enough for the schema (a user_config starts 5 levels down) and a
	// user_config of MaxUserConfigDepth levels.
	MaxDocumentDepth = 100
)

// maxDepthPath bounds the path a depth problem names.
const maxDepthPath = 120

// depthProblem reports a decoded document nested deeper than
// MaxDocumentDepth, naming where (the path is cut at maxDepthPath
// characters), or returns false.
func depthProblem(tree any) (Problem, bool) {
	path, ok := tooDeep(tree, "", MaxDocumentDepth)
	if !ok {
		return Problem{}, false
	}
	return Problem{Path: path, Message: fmt.Sprintf("nested more than %d levels deep; a config may nest at most %d levels "+
		"of lists and objects (a user_config at most %d)", MaxDocumentDepth, MaxDocumentDepth, MaxUserConfigDepth)}, true
}

// tooDeep returns the path of the first list or object in v that lies more
// than left levels down, or false. It descends at most left+1 levels.
func tooDeep(v any, path string, left int) (string, bool) {
	switch v := v.(type) {
	case map[string]any:
		if left == 0 {
			return path, true
		}
		for _, k := range keysSorted(v) {
			if p, deep := tooDeep(v[k], extendPath(path, pathKey(path, k)), left-1); deep {
				return p, true
			}
		}
	case []any:
		if left == 0 {
			return path, true
		}
		for i, e := range v {
			if p, deep := tooDeep(e, extendPath(path, pathIndex(path, i)), left-1); deep {
				return p, true
			}
		}
	}
	return "", false
}

// extendPath returns next (path with one more step) unless path is already
// maxDepthPath long, in which case it ends path with "…" once.
func extendPath(path, next string) string {
	switch {
	case strings.HasSuffix(path, "…"):
		return path
	case len(next) > maxDepthPath:
		return path + "…"
	}
	return next
}

// jsonDepth returns how deeply the valid JSON text b nests lists and
// objects, without decoding it.
func jsonDepth(b []byte) int {
	depth, deepest := 0, 0
	inString, escaped := false, false
	for _, c := range b {
		switch {
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[':
			depth++
			deepest = max(deepest, depth)
		case c == '}' || c == ']':
			depth--
		}
	}
	return deepest
}

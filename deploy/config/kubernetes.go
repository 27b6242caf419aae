package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// kubernetesResource recognises a Kubernetes manifest (apiVersion and kind
// at the root) given where a config was expected, and returns the one
// problem that says what it is and what to do with it, rather than an
// unknown-field problem for each of apiVersion, kind, metadata and spec.
func kubernetesResource(tree any) (Problem, bool) {
	m, ok := tree.(map[string]any)
	if !ok {
		return Problem{}, false
	}
	apiVersion, hasAPI := m["apiVersion"].(string)
	kind, hasKind := m["kind"].(string)
	if !hasAPI || !hasKind {
		return Problem{}, false
	}
	what := fmt.Sprintf("this is a Kubernetes %s resource (apiVersion %s), not a Gantry config", kind, apiVersion)
	switch {
	case kind == "RayService":
		return Problem{Message: what + `: to run its Ray Serve config (spec.serveConfigV2) with Gantry, use ` +
			`"gantry deploy --from-rayservice FILE" or "gantry serve --from-rayservice FILE"; ` +
			`on Kubernetes, describe the service as a GantryService resource instead ` +
			`(spec.serveConfig holds the config; see examples/stable-diffusion/gantryservice.yaml)`}, true
	case kind == "GantryService":
		return Problem{Message: what + `: apply it with kubectl to a namespace where "gantry serve --backend kubernetes" runs ` +
			`(charts/gantry), or give gantry serve or gantry deploy the contents of its spec.serveConfig as a file`}, true
	}
	return Problem{Message: what + `: a Gantry config has applications (and optionally http_options, grpc_options, ` +
		`dashboard, worker_groups) at its root; see examples/stable-diffusion/serve.yaml`}, true
}

// serveConfigV2Path is where a RayService keeps its Ray Serve config.
const serveConfigV2Path = "spec.serveConfigV2"

// FromRayService reads a KubeRay RayService manifest (YAML or JSON; in a
// file of several documents, the one RayService) and parses its
// spec.serveConfigV2, the Ray Serve config as a string, as a Gantry config.
// Problems with the manifest have paths like "kind" or
// "spec.serveConfigV2"; problems inside the config have paths below
// "spec.serveConfigV2", e.g. "spec.serveConfigV2.applications[0].import_path",
// and syntax errors name the line of the config and, when it is a literal
// block (serveConfigV2: |), the line of the file. BaseDir is left empty;
// see LoadRayService.
func FromRayService(data []byte) (*Config, error) {
	docs := splitDocuments(data)
	var found []int
	var trees []any
	for i, doc := range docs {
		tree, err := decodeTree(doc.data, func(n int) string { return lineNumber(doc.line + n - 1) })
		if err != nil {
			return nil, err
		}
		trees = append(trees, tree)
		if m, ok := tree.(map[string]any); ok && m["kind"] == "RayService" {
			found = append(found, i)
		}
	}
	switch {
	case len(found) > 1:
		return nil, &Error{Problems: []Problem{{Message: fmt.Sprintf(
			"the file has %d RayService documents; keep the one to run in a file of its own", len(found))}}}
	case len(found) == 0 && len(docs) > 1:
		return nil, &Error{Problems: []Problem{{Message: fmt.Sprintf(
			"none of the file's %d documents is a RayService (kind: RayService)", len(docs))}}}
	case len(found) == 0:
		found = []int{0}
	}
	doc := docs[found[0]]
	serveConfig, p, ok := serveConfigV2(trees[found[0]])
	if !ok {
		return nil, &Error{Problems: []Problem{p}}
	}
	where := func(n int) string { return lineNumber(n) + " of " + serveConfigV2Path }
	if first, ok := literalBlockLine(doc.data); ok {
		where = func(n int) string {
			return fmt.Sprintf("line %d of %s (line %d of the file)", n, serveConfigV2Path, doc.line+first+n-1)
		}
	}
	c, err := parse([]byte(serveConfig), where)
	if ce, ok := err.(*Error); ok {
		for i := range ce.Problems {
			ce.Problems[i].Path = prefixPath(serveConfigV2Path, ce.Problems[i].Path)
		}
	}
	return c, err
}

// LoadRayService reads the RayService manifest at path with FromRayService
// and sets BaseDir to the file's folder (absolute), as LoadFile does.
func LoadRayService(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := FromRayService(data)
	if err != nil {
		return nil, err
	}
	if c.BaseDir, err = filepath.Abs(filepath.Dir(path)); err != nil {
		return nil, err
	}
	return c, nil
}

// serveConfigV2 returns the manifest's spec.serveConfigV2, or the problem
// that keeps it from being read.
func serveConfigV2(tree any) (string, Problem, bool) {
	m, ok := tree.(map[string]any)
	if !ok {
		return "", Problem{Message: "expected a RayService manifest (apiVersion: ray.io/v1, kind: RayService), got " + describeJSON(tree)}, false
	}
	if _, ok := m["kind"]; !ok {
		return "", Problem{Path: "kind", Message: "is missing: --from-rayservice reads KubeRay RayService manifests " +
			"(apiVersion: ray.io/v1, kind: RayService); give a Gantry config file without --from-rayservice"}, false
	}
	if kind, _ := m["kind"].(string); kind != "RayService" {
		return "", Problem{Path: "kind", Message: fmt.Sprintf("expected RayService, got %s; --from-rayservice reads "+
			"KubeRay RayService manifests (a Gantry config file is given without it)", describeJSON(m["kind"]))}, false
	}
	if api, _ := m["apiVersion"].(string); !strings.HasPrefix(api, "ray.io/") {
		return "", Problem{Path: "apiVersion", Message: fmt.Sprintf("expected ray.io/v1 (KubeRay's RayService), got %s", describeJSON(m["apiVersion"]))}, false
	}
	spec, _ := m["spec"].(map[string]any)
	v, ok := spec["serveConfigV2"]
	switch s, isString := v.(string); {
	case isString && strings.TrimSpace(s) != "":
		return s, Problem{}, true
	case !ok && spec["serveConfig"] != nil:
		return "", Problem{Path: "spec.serveConfig", Message: "is KubeRay's old single-application format, which Gantry does not read; " +
			"write the applications as a Ray Serve multi-application config in spec.serveConfigV2"}, false
	case !ok || isString:
		return "", Problem{Path: serveConfigV2Path, Message: "is missing or empty: it should hold the Ray Serve config " +
			"(applications: …) as a string, e.g. a block after serveConfigV2: |"}, false
	}
	return "", Problem{Path: serveConfigV2Path, Message: fmt.Sprintf("expected the Ray Serve config as a string "+
		"(serveConfigV2: | and the config indented below it), got %s", describeJSON(v))}, false
}

// prefixPath puts path below prefix.
func prefixPath(prefix, path string) string {
	switch {
	case path == "":
		return prefix
	case strings.HasPrefix(path, "["):
		return prefix + path
	}
	return prefix + "." + path
}

// document is one document of a YAML stream and the file line it starts on.
type document struct {
	data []byte
	line int
}

// documentSeparatorRE matches a line that starts a new YAML document.
var documentSeparatorRE = regexp.MustCompile(`^---(\s.*)?$`)

// splitDocuments splits a YAML stream at its "---" lines; documents that
// hold nothing but comments and blank lines are left out.
func splitDocuments(data []byte) []document {
	var docs []document
	lines := bytes.SplitAfter(data, []byte("\n"))
	start := 0
	flush := func(end int) {
		doc := document{data: bytes.Join(lines[start:end], nil), line: start + 1}
		for _, l := range lines[start:end] {
			if t := bytes.TrimSpace(l); len(t) > 0 && t[0] != '#' && !documentSeparatorRE.Match(bytes.TrimRight(l, "\r\n")) {
				docs = append(docs, doc)
				return
			}
		}
	}
	for i, l := range lines {
		if i > start && documentSeparatorRE.Match(bytes.TrimRight(l, "\r\n")) {
			flush(i)
			start = i
		}
	}
	flush(len(lines))
	if len(docs) == 0 {
		docs = append(docs, document{data: data, line: 1})
	}
	return docs
}

// serveConfigV2BlockRE matches "serveConfigV2: |" (a literal block scalar,
// whose lines are the file's lines, unindented).
var serveConfigV2BlockRE = regexp.MustCompile(`^\s+serveConfigV2:\s*\|[-+0-9]*\s*(#.*)?$`)

// literalBlockLine returns the line of doc (from 1) of the serveConfigV2
// key when its value is a literal block, so that line n of the config is
// line first+n of the document.
func literalBlockLine(doc []byte) (first int, ok bool) {
	for i, l := range strings.Split(string(doc), "\n") {
		if serveConfigV2BlockRE.MatchString(strings.TrimRight(l, "\r")) {
			if ok {
				return 0, false // two: do not guess
			}
			first, ok = i+1, true
		}
	}
	return first, ok
}

package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"strings"
)

// Python applications: an application with import_path runs its code on
// the Python SDK's runner (python -m gantry_serve.replica), one Gantry
// deployment per @serve.deployment of the graph the import path binds.
// Its deployments[] entries are optional and override, by name, the
// options the code sets (as in Ray); they have no replica block.

// LocalURIScheme marks a working_dir that is a folder on the machine
// itself, as Ray's "local://" URIs do; Gantry reads it as that path, and
// Ray's view of the config writes a working_dir path this way, since Ray's
// schema takes only URIs there.
const LocalURIScheme = "local://"

// DefaultPython is the interpreter of an import_path application without
// a python field, looked up on PATH.
const DefaultPython = "python3"

// runtimeEnvRefused are the runtime_env fields that would have Gantry build a
// Python environment: refused, with a message saying to install into the
// configured Python instead.
var runtimeEnvRefused = []string{"pip", "conda", "uv", "py_modules", "py_executable", "container", "image_uri"}

// importPathRE is Ray's import path: a dotted module path, then the
// attribute after ":" or after the last ".". Module path segments may hold
// more than identifiers ("ai-ml.gke-ray.rayserve..." imports through
// importlib, as in the GKE tutorial); the attribute is a Python name.
var importPathRE = regexp.MustCompile(`^([^\s.:]+\.)*[^\s.:]+(:|\.)[A-Za-z_][A-Za-z0-9_]*$`)

// IsPython reports whether the application runs Python code from its
// import_path rather than replica commands.
func (a *Application) IsPython() bool { return a.ImportPath != "" }

// PythonApp is what runs an import_path application, resolved against the
// config's folder.
type PythonApp struct {
	// Application is the application's name.
	Application string
	// ImportPath is the import path as written.
	ImportPath string
	// Python is the interpreter as resolved: a bare command name (looked up
	// on PATH) or a path (it has a "/" or starts with ".") joined with the
	// config's folder, which may name an
	// executable or a venv folder (its bin/python runs then).
	Python string
	// WorkingDir is runtime_env.working_dir joined with the config's
	// folder; the config's folder when unset ("" when that is unknown too:
	// the gateway's own working directory).
	WorkingDir string
	// Env is runtime_env.env_vars.
	Env map[string]string
}

// PythonApp resolves what runs the import_path application a against base,
// the config's folder. a must be valid.
func (a *Application) PythonApp(base string) PythonApp {
	p := PythonApp{
		Application: a.EffectiveName(),
		ImportPath:  a.ImportPath,
		Python:      resolveCommand([]string{stringOrDefault(a.Python, DefaultPython)}, "", base)[0],
		WorkingDir:  base,
	}
	if strings.HasPrefix(a.Python, ".") { // ".venv": a path, though it has no "/"
		p.Python = resolvePath(a.Python, base)
	}
	if wd, ok := a.RuntimeEnv["working_dir"].(string); ok && wd != "" {
		p.WorkingDir = resolvePath(strings.TrimPrefix(wd, LocalURIScheme), base)
	}
	if env, ok := a.RuntimeEnv["env_vars"].(map[string]any); ok && len(env) > 0 {
		p.Env = make(map[string]string, len(env))
		for k, v := range env {
			if s, ok := v.(string); ok {
				p.Env[k] = s
			}
		}
	}
	return p
}

// pythonApp checks the Python fields of application a at path p.
func (v *validator) pythonApp(p string, a *Application) {
	if !a.IsPython() {
		if a.Python != "" {
			v.addf(p+".python", "applies only to applications with import_path; replica commands name their own program")
		}
		if len(a.RuntimeEnv) > 0 {
			v.addf(p+".runtime_env", "applies only to applications with import_path; put environment variables "+
				"in deployments[].replica.env and install dependencies into the replica's image or venv")
		}
		return
	}
	if !importPathRE.MatchString(a.ImportPath) {
		v.addf(p+".import_path", `must be "module:attribute" or "module.attribute" (a dotted module path, then the name of a bound application), got %q`, a.ImportPath)
	}
	if a.Ingress != "" {
		v.addf(p+".ingress", "must not be set with import_path: the ingress is the deployment the import path binds (got %q)", a.Ingress)
	}
	switch py := a.Python; {
	case py == "":
	case strings.TrimSpace(py) != py || strings.ContainsFunc(py, isControl):
		v.addf(p+".python", "must be a command on PATH, a path to a Python executable or a venv folder, "+
			"without surrounding spaces or control characters; got %q", py)
	}
	v.runtimeEnv(p+".runtime_env", a.RuntimeEnv)
}

// runtimeEnv checks an import_path application's runtime_env: working_dir
// (a local folder) and env_vars are honoured; what would build a Python
// environment is refused.
func (v *validator) runtimeEnv(p string, env map[string]any) {
	for _, k := range keysSorted(env) {
		val := env[k]
		switch {
		case k == "working_dir":
			v.workingDir(p+".working_dir", val)
		case k == "env_vars":
			v.envVars(p+".env_vars", val)
		case slices.Contains(runtimeEnvRefused, k):
			v.addf(pathKey(p, k), "not supported: Gantry runs the application with the configured Python "+
				"(applications[].python, default python3 on PATH) as it is; install the packages into that Python "+
				"(e.g. a venv: python3 -m venv .venv && .venv/bin/pip install ...; python: .venv) and remove %s", k)
		default:
			v.addf(pathKey(p, k), "unknown or unsupported runtime_env field; Gantry honours working_dir and env_vars")
		}
	}
}

func (v *validator) workingDir(p string, val any) {
	s, ok := val.(string)
	switch {
	case !ok:
		v.addf(p, "expected a string (a local folder), got %s", describeJSON(val))
	case s == "":
		v.addf(p, "must name a local folder, got an empty string")
	case strings.Contains(s, "://") && !strings.HasPrefix(s, LocalURIScheme):
		v.addf(p, "remote URIs are not supported (got %q): Gantry runs the application from a local folder; "+
			"download and unpack it, and give its path (relative to the config file's folder)", s)
	case strings.ContainsFunc(s, isControl):
		v.addf(p, "must not contain control characters, got %q", s)
	}
}

func (v *validator) envVars(p string, val any) {
	m, ok := val.(map[string]any)
	if !ok {
		v.addf(p, "expected an object of variable names to string values, got %s", describeJSON(val))
		return
	}
	for _, k := range keysSorted(m) {
		kp := pathKey(p, k)
		if _, ok := m[k].(string); !ok {
			v.addf(kp, "expected a string, got %s (quote it)", describeJSON(m[k]))
		}
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			v.addf(kp, `is not a valid variable name: it must be non-empty without "=" or NUL`)
		case slices.Contains(reservedEnv, k) || slices.Contains(pythonEnv, k):
			v.addf(kp, "is set by Gantry for every Python replica; Gantry sets %s", strings.Join(append(slices.Clone(reservedEnv), pythonEnv...), ", "))
		}
	}
}

// pythonEnv are the variables Gantry sets for Python replicas on top of
// reservedEnv.
var pythonEnv = []string{"GANTRY_HANDLE_ADDRESS", "GANTRY_HANDLE_TOKEN"}

// Options a Python deployment may set in code, by Ray's field names: those
// of Deployment but Gantry's replica block.
var codeOptionsType = reflect.TypeFor[codeOptions]()

// codeOptions is a Deployment without name and replica: what a
// @serve.deployment's options can say.
type codeOptions struct {
	NumReplicas               *NumReplicas       `json:"num_replicas,omitempty"`
	MaxOngoingRequests        *int               `json:"max_ongoing_requests,omitempty"`
	MaxQueuedRequests         *int               `json:"max_queued_requests,omitempty"`
	UserConfig                json.RawMessage    `json:"user_config,omitempty"`
	AutoscalingConfig         *AutoscalingConfig `json:"autoscaling_config,omitempty"`
	GracefulShutdownWaitLoopS *float64           `json:"graceful_shutdown_wait_loop_s,omitempty"`
	GracefulShutdownTimeoutS  *float64           `json:"graceful_shutdown_timeout_s,omitempty"`
	HealthCheckPeriodS        *float64           `json:"health_check_period_s,omitempty"`
	HealthCheckTimeoutS       *float64           `json:"health_check_timeout_s,omitempty"`
	RayActorOptions           *RayActorOptions   `json:"ray_actor_options,omitempty"`
}

// MergeDeployment is deployment name of an import_path application: the
// options its code sets (code, a JSON object with Ray's field names; empty
// means none) under the fields its deployments[] entry sets (override; nil
// when it has none), as Ray merges them: a field the config sets wins as a
// whole. A count of num_replicas in the config drops the code's
// autoscaling_config, and an autoscaling_config in the config drops the
// code's count, so the two never conflict. The result has no replica block;
// the caller adds one. Problems name the deployment and the field.
func MergeDeployment(name string, code json.RawMessage, override *Deployment) (Deployment, error) {
	path := fmt.Sprintf("deployment %q", name)
	tree := map[string]any{}
	if len(bytes.TrimSpace(code)) > 0 {
		dec := json.NewDecoder(bytes.NewReader(code))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return Deployment{}, &Error{Problems: []Problem{{Path: path, Message: "its options from code are not JSON: " + err.Error()}}}
		}
		m, ok := v.(map[string]any)
		if !ok && v != nil {
			return Deployment{}, &Error{Problems: []Problem{{Path: path, Message: "its options from code must be a JSON object, got " + describeJSON(v)}}}
		}
		tree = m
	}
	var w schemaWalker
	w.walk(path+" (options set in code)", tree, codeOptionsType)
	if len(w.problems) > 0 {
		return Deployment{}, &Error{Problems: w.problems}
	}
	if override != nil {
		b, err := json.Marshal(override)
		if err != nil {
			return Deployment{}, err
		}
		var over map[string]any
		if err := json.Unmarshal(b, &over); err != nil {
			return Deployment{}, err
		}
		delete(over, "name")
		if n := override.NumReplicas; n != nil && !n.Auto {
			delete(tree, "autoscaling_config")
		}
		if override.AutoscalingConfig != nil {
			if n, ok := tree["num_replicas"].(json.Number); ok && n != "" {
				delete(tree, "num_replicas")
			}
		}
		maps.Copy(tree, over)
	}
	b, err := json.Marshal(tree)
	if err != nil {
		return Deployment{}, err
	}
	var d Deployment
	if err := json.Unmarshal(b, &d); err != nil {
		return Deployment{}, &Error{Problems: []Problem{{Path: path, Message: err.Error()}}}
	}
	d.Name = name
	d.Replica = nil
	v := &validator{}
	v.deployment(path, &d, true)
	if len(v.problems) > 0 {
		return Deployment{}, &Error{Problems: v.problems}
	}
	return d, nil
}

// ResolvePythonPaths rewrites an import_path application's python (when it
// is a path) and runtime_env.working_dir to what they resolve to against
// base, the config's folder, and sets working_dir to base when unset: the
// application is then self-contained for a gateway that has no folder to
// resolve against (gantry deploy), and runs as with `gantry serve CONFIG`.
func (a *Application) ResolvePythonPaths(base string) {
	if !a.IsPython() || base == "" {
		return
	}
	p := a.PythonApp(base)
	if a.Python != "" {
		a.Python = p.Python
	}
	env := maps.Clone(a.RuntimeEnv)
	if env == nil {
		env = map[string]any{}
	}
	env["working_dir"] = p.WorkingDir
	a.RuntimeEnv = env
}

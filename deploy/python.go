package deploy

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"

	"gantry.dev/gantry/deploy/config"
)

// Python applications. An application with import_path has no replica
// blocks: its deployments are those of the graph its code binds. On every
// config applied the controller builds that graph again in the background
// (a GraphBuilder runs `python -m gantry_serve.build IMPORT_PATH`), because
// the code in working_dir may have changed while the config did not. Until
// the first build succeeds the application is DEPLOYING with no deployment;
// a failed build makes it DEPLOY_FAILED with the builder's message, while
// the deployments of the last good build keep serving. Each graph
// deployment becomes a Gantry deployment whose replica command is
// `python -m gantry_serve.replica IMPORT_PATH NAME`, its options from code
// under the config's deployments[] entry of that name (config.MergeDeployment);
// the working_dir's hash is in its environment, so new code rolls out
// like any other code change.

// GraphBuilder lists the deployments of an import_path application by
// running its code.
type GraphBuilder interface {
	// Build runs app's code (app.Python is the interpreter, found) and
	// returns its graph. It blocks until the code has answered, its own
	// time limit has passed or ctx ends; its error's text is what the
	// application's DEPLOY_FAILED message says.
	Build(ctx context.Context, app config.PythonApp) (Graph, error)
}

// Graph is an application's deployments as its code binds them.
type Graph struct {
	// Ingress names the deployment the bound application is: it receives
	// the application's traffic.
	Ingress string `json:"ingress"`
	// Deployments in the order of a walk from the ingress.
	Deployments []GraphDeployment `json:"deployments"`
}

// GraphDeployment is one @serve.deployment of a graph.
type GraphDeployment struct {
	Name string `json:"name"`
	// Options are the options set in code, by Ray's config field names
	// (num_replicas, ray_actor_options...); absent ones were not set.
	Options map[string]any `json:"options,omitempty"`
}

// check reports a graph that cannot be run: no deployment, no ingress
// among them, names that are not unique or not valid.
func (g Graph) check() error {
	if len(g.Deployments) == 0 {
		return errors.New("the graph has no deployment")
	}
	seen := map[string]bool{}
	for _, d := range g.Deployments {
		if err := config.CheckName("deployment", d.Name); err != nil {
			return err
		}
		if seen[d.Name] {
			return fmt.Errorf("two deployments are named %q; deployment names must be unique within an application", d.Name)
		}
		seen[d.Name] = true
	}
	if !seen[g.Ingress] {
		return fmt.Errorf("its ingress %q is not one of its deployments", g.Ingress)
	}
	return nil
}

// NoPythonOnKubernetes is why the Kubernetes backend does not run
// import_path applications yet.
const NoPythonOnKubernetes = "import_path applications run only on the local backend for now (gantry serve without " +
	"--backend kubernetes); on Kubernetes, build an image with your code and gantry-serve and give each deployment " +
	"a replica block: {command: [python3, -m, gantry_serve.replica, IMPORT_PATH, DEPLOYMENT], image: ...}"

// NoPython is the GraphBuilder of a backend that cannot run import_path
// applications: every build fails with Reason.
type NoPython struct{ Reason string }

// Build fails with b.Reason.
func (b NoPython) Build(context.Context, config.PythonApp) (Graph, error) {
	return Graph{}, errors.New(b.Reason)
}

// built is one successful build: what ran and what it found.
type built struct {
	app   config.PythonApp // as built, with Python the interpreter found
	graph Graph
	hash  string // of working_dir's contents; "" without one
}

// pythonRun is the controller's record of an import_path application's
// builds. Owned by Run.
type pythonRun struct {
	seq      uint64             // of the latest build started
	cancel   context.CancelFunc // ends the running build; nil when none runs
	last     *built             // the last successful build; nil before one
	buildErr string             // why the latest build failed; "" if it did not
	mergeErr string             // why the config's overrides do not fit the graph
}

// buildPython starts building the graph of import_path application ac in
// the background, ending the build of an older config if one runs.
func (c *Controller) buildPython(app *appRun, ac config.Application, base string) {
	if app.python == nil {
		app.python = &pythonRun{}
	}
	p := app.python
	if p.cancel != nil {
		p.cancel()
	}
	p.seq++
	seq, in := p.seq, ac.PythonApp(base)
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel = cancel
	name := app.name
	c.spawn(func() {
		defer cancel()
		b, err := c.build(ctx, in)
		c.send(event{kind: evBuilt, app: name, seq: seq, built: b, err: err})
	})
}

// build finds the interpreter, hashes working_dir and runs the builder.
func (c *Controller) build(ctx context.Context, in config.PythonApp) (*built, error) {
	py, err := findPython(in.Python)
	if err != nil {
		return nil, err
	}
	in.Python = py
	if in.WorkingDir != "" {
		if st, err := os.Stat(in.WorkingDir); err != nil || !st.IsDir() {
			return nil, fmt.Errorf("runtime_env.working_dir %s is not a folder: it must be a local folder "+
				"(relative paths are relative to the config file's folder)", in.WorkingDir)
		}
	}
	hash, err := hashTree(in.WorkingDir)
	if err != nil {
		return nil, fmt.Errorf("reading runtime_env.working_dir: %w", err)
	}
	g, err := c.graphs.Build(ctx, in)
	if err != nil {
		return nil, err
	}
	if err := g.check(); err != nil {
		return nil, fmt.Errorf("the graph of %s: %w", in.ImportPath, err)
	}
	return &built{app: in, graph: g, hash: hash}, nil
}

// findPython returns the interpreter python names: a venv folder's
// bin/python, an executable file, or a command found on PATH.
func findPython(python string) (string, error) {
	if !strings.ContainsRune(python, '/') && !strings.ContainsRune(python, filepath.Separator) {
		p, err := exec.LookPath(python)
		if err != nil {
			return "", fmt.Errorf("python: %q is not on the gateway's PATH; install Python 3.10 or later with "+
				"gantry-serve (pip install gantry-serve), or set applications[].python to its path or venv folder", python)
		}
		return p, nil
	}
	st, err := os.Stat(python)
	if err != nil {
		return "", fmt.Errorf("python: %s does not exist; set applications[].python to a Python executable or a venv folder", python)
	}
	if st.IsDir() {
		exe := filepath.Join(python, "bin", "python")
		if _, err := os.Stat(exe); err != nil {
			return "", fmt.Errorf("python: %s is a folder without bin/python; give a venv folder (python3 -m venv %s) or an executable", python, python)
		}
		return exe, nil
	}
	if st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("python: %s is not executable", python)
	}
	return python, nil
}

// expand returns cfg with every import_path application's deployments
// those of its last build, merged with its deployments[] overrides, each
// with its replica block; one without a build has none yet. Problems
// merging are kept in the application's pythonRun (mergeErr), and it keeps
// no deployment then.
func (c *Controller) expand(cfg *config.Config) *config.Config {
	out := *cfg
	out.Applications = slices.Clone(cfg.Applications)
	for i := range out.Applications {
		a := &out.Applications[i]
		if !a.IsPython() {
			continue
		}
		app := c.apps[a.EffectiveName()]
		var p *pythonRun
		if app != nil && !app.deleting {
			p = app.python
		}
		if p == nil || p.last == nil {
			a.Deployments = nil
			continue
		}
		exp, err := pythonDeployments(*a, p.last, cfg.WorkerGroups)
		if err != nil {
			p.mergeErr = err.Error()
			a.Deployments = nil
			continue
		}
		p.mergeErr = ""
		*a = exp
	}
	return &out
}

// pythonDeployments is application a with the deployments of build b:
// each one's options from code under a's deployments[] entry of that name,
// and a replica block that runs it on the SDK's runner.
func pythonDeployments(a config.Application, b *built, groups []config.WorkerGroup) (config.Application, error) {
	overrides := map[string]*config.Deployment{}
	for i := range a.Deployments {
		overrides[a.Deployments[i].Name] = &a.Deployments[i]
	}
	var names []string
	for _, gd := range b.graph.Deployments {
		names = append(names, gd.Name)
	}
	for i, d := range a.Deployments {
		if !slices.Contains(names, d.Name) {
			return a, fmt.Errorf("deployments[%d].name: %q is not a deployment of %s; its deployments are: %s",
				i, d.Name, b.app.ImportPath, strings.Join(names, ", "))
		}
	}
	env := maps.Clone(b.app.Env)
	if env == nil {
		env = map[string]string{}
	}
	if b.app.WorkingDir != "" {
		env["PYTHONPATH"] = pythonPath(b.app.WorkingDir)
	}
	if b.hash != "" {
		env[EnvWorkingDirHash] = b.hash
	}
	var deps []config.Deployment
	for _, gd := range b.graph.Deployments {
		code, err := jsonOf(gd.Options)
		if err != nil {
			return a, err
		}
		d, err := config.MergeDeployment(gd.Name, code, overrides[gd.Name])
		if err != nil {
			return a, err
		}
		d.Replica = &config.ReplicaConfig{
			Command:    []string{b.app.Python, "-m", "gantry_serve.replica", b.app.ImportPath, gd.Name},
			Env:        maps.Clone(env),
			WorkingDir: b.app.WorkingDir,
		}
		deps = append(deps, d)
	}
	a.Deployments, a.Ingress = deps, b.graph.Ingress
	placed := config.Config{Applications: []config.Application{a}, WorkerGroups: groups}
	if problems := config.ValidatePlacement(&placed); len(problems) > 0 {
		return a, &config.Error{Problems: problems}
	}
	return a, nil
}

// EnvWorkingDirHash is the variable a Python replica gets with the hash of
// its working_dir's contents: part of its code version, so new code rolls
// out like any other code change.
const EnvWorkingDirHash = "GANTRY_WORKING_DIR_HASH"

// pythonPath is PYTHONPATH with dir first, then the gateway's own, if any.
func pythonPath(dir string) string {
	if inherited := os.Getenv("PYTHONPATH"); inherited != "" {
		return dir + string(os.PathListSeparator) + inherited
	}
	return dir
}

// built handles the end of a build: the newest one's result is kept, and
// the config applied again with its deployments.
func (c *Controller) built(ev event) {
	app := c.apps[ev.app]
	if app == nil || app.python == nil || app.python.seq != ev.seq || c.shuttingDown {
		return // an older build, or the application is gone
	}
	p := app.python
	p.cancel = nil
	if ev.err != nil {
		p.buildErr = ev.err.Error()
		c.eventLog.Add(Event{Kind: EventBuildFailed, Level: "error", Application: app.name, Message: p.buildErr})
		return
	}
	p.buildErr = ""
	p.last = ev.built
	c.eventLog.Add(Event{Kind: EventGraphBuilt, Level: "info", Application: app.name,
		Message: fmt.Sprintf("%s binds %d deployments; ingress %s", ev.built.app.ImportPath,
			len(ev.built.graph.Deployments), ev.built.graph.Ingress)})
	if c.applied != nil && !app.deleting {
		c.sync(c.applied)
	}
}

// pythonStatus overrides an import_path application's status while it has
// no deployment to derive one from, or its last build failed.
func pythonStatus(app *appRun, as *AppStatus) {
	p := app.python
	if p == nil || app.deleting {
		return
	}
	switch {
	case p.buildErr != "":
		as.Status, as.Message = AppDeployFailed, joinMessages(p.buildErr, as.Message)
	case p.mergeErr != "":
		as.Status, as.Message = AppDeployFailed, joinMessages(p.mergeErr, as.Message)
	case p.last == nil:
		as.Status = AppDeploying
		as.Message = joinMessages("importing "+app.config.ImportPath+" to build the application's graph", as.Message)
	}
}

func joinMessages(a, b string) string {
	if b == "" {
		return a
	}
	return a + "\n" + b
}

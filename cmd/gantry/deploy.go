package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strings"
	"time"

	"sigs.k8s.io/yaml"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/replica"
	"gantry.dev/gantry/serve/admin"
)

// gantry deploy, status, config and shutdown: Ray's `serve deploy`,
// `serve status`, `serve config` and `serve shutdown` for a Gantry gateway.

// stdin is where shutdown reads its confirmation; tests replace it.
var stdin io.Reader = os.Stdin

// pollEvery is how often deploy --wait looks at the applications.
const pollEvery = 250 * time.Millisecond

// newFlagSet returns a flag set whose usage line is usage.
func newFlagSet(name, usage string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage:", usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags that may come before or after the positional
// arguments, and returns the positional ones.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, usageError{err.Error()}
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func deployCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	var wait bool
	var timeout time.Duration
	var rayService string
	fs := newFlagSet("gantry deploy", "gantry deploy CONFIG | --from-rayservice FILE [--wait] [--timeout D] [--address URL] [--admin-token TOKEN]", stderr)
	cf.register(fs)
	fs.BoolVar(&wait, "wait", false, "wait until every application in CONFIG is RUNNING (exit 1 if one is DEPLOY_FAILED)")
	fs.DurationVar(&timeout, "timeout", 5*time.Minute, "with --wait: give up after this long")
	fs.StringVar(&rayService, "from-rayservice", "", "apply the Ray Serve config (spec.serveConfigV2) of the KubeRay RayService manifest in FILE")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	switch {
	case rayService != "" && len(pos) > 0:
		fs.Usage()
		return usageError{fmt.Sprintf("gantry deploy takes a config file or --from-rayservice FILE, not both (got %q)", pos)}
	case rayService == "" && len(pos) != 1:
		fs.Usage()
		return usageError{"gantry deploy takes one config file"}
	}
	path := rayService
	if path == "" {
		path = pos[0]
	}
	cfg, err := loadConfig(path, rayService != "")
	if err != nil {
		return err
	}
	absolutizeReplicaPaths(cfg)
	body, err := json.Marshal(cfg)
	if err != nil {
		return fmt.Errorf("encoding config %s: %w", path, err)
	}
	c, err := newAPIClient(cf)
	if err != nil {
		return err
	}
	if err := c.put(ctx, body); err != nil {
		var api *apiError
		if errors.As(err, &api) && api.code == http.StatusBadRequest {
			return fmt.Errorf("the gateway at %s refused config %s:\n%s", c.base, path, strings.TrimRight(api.body, "\n"))
		}
		return err
	}
	names := make([]string, len(cfg.Applications))
	for i := range cfg.Applications {
		names[i] = cfg.Applications[i].EffectiveName()
	}
	fmt.Fprintf(stdout, "Applied %s at %s: %s.\n", path, c.base, strings.Join(names, ", "))
	if !wait {
		fmt.Fprintln(stdout, "Use `gantry status` to follow the deployment, or deploy with --wait.")
		return nil
	}
	return waitRunning(ctx, c, names, timeout, stdout)
}

// loadConfig reads the config file at path, or with fromRayService the
// Ray Serve config inside the RayService manifest at path, for gantry
// serve and gantry deploy; relative paths resolve against the file's folder.
func loadConfig(path string, fromRayService bool) (*config.Config, error) {
	load := config.LoadFile
	if fromRayService {
		load = config.LoadRayService
	}
	cfg, err := load(path)
	if err != nil {
		var invalid *config.Error
		if errors.As(err, &invalid) {
			return nil, fmt.Errorf("invalid config %s:\n%w", path, err)
		}
		return nil, fmt.Errorf("reading config: %w", err)
	}
	return cfg, nil
}

// absolutizeReplicaPaths rewrites every replica command and working_dir
// (and an import_path application's python and runtime_env.working_dir) to
// what it resolves to against the config file's folder (cfg.BaseDir): the
// gateway has no folder to resolve a relative path against, so the config
// sent is self-contained. A replica's working_dir left out becomes the
// config file's folder, as with `gantry serve CONFIG`. "gantry" and bare
// command names are left for the gateway to resolve (its executable, PATH).
func absolutizeReplicaPaths(cfg *config.Config) {
	type key struct{ app, dep string }
	resolved := map[key]config.DeploymentSpec{}
	for _, s := range cfg.Specs("") {
		resolved[key{s.Application, s.Name}] = s
	}
	for i := range cfg.Applications {
		a := &cfg.Applications[i]
		a.ResolvePythonPaths(cfg.BaseDir)
		for j := range a.Deployments {
			d := &a.Deployments[j]
			s, ok := resolved[key{a.EffectiveName(), d.Name}]
			if d.Replica == nil || !ok {
				continue
			}
			r := *d.Replica
			r.Command = s.Command
			r.WorkingDir = s.WorkingDir
			d.Replica = &r
		}
	}
	cfg.BaseDir = ""
}

// waitRunning polls until every named application is RUNNING, printing a
// line whenever what it sees changes. An application in DEPLOY_FAILED ends
// the wait with its message.
func waitRunning(ctx context.Context, c *apiClient, names []string, timeout time.Duration, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	last := map[string]string{}
	var lastErr error
	for {
		v, err := c.view(ctx)
		switch {
		case err == nil:
			lastErr = nil
			running := 0
			for _, name := range names {
				a, ok := v.Applications[name]
				line := name + ": not deployed yet"
				if ok {
					line = progressLine(a)
				}
				if line != last[name] {
					fmt.Fprintf(stdout, "%s %s\n", time.Now().Format("15:04:05"), line)
					last[name] = line
				}
				switch {
				case !ok:
				case a.Status == string(deploy.AppRunning):
					running++
				case a.Status == string(deploy.AppDeployFailed):
					return fmt.Errorf("application %s is DEPLOY_FAILED:\n%s", name, a.Message)
				}
			}
			if running == len(names) {
				if len(names) == 1 {
					fmt.Fprintf(stdout, "Application %s is RUNNING.\n", names[0])
				} else {
					fmt.Fprintf(stdout, "All %d applications are RUNNING.\n", len(names))
				}
				return nil
			}
		case ctx.Err() != nil:
		case errors.As(err, new(*noGatewayError)):
			return err
		default:
			lastErr = err // a passing failure: try again
		}
		select {
		case <-ctx.Done():
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				msg := fmt.Sprintf("gave up after %v: not every application is RUNNING", timeout)
				if lastErr != nil {
					msg += "; last error: " + lastErr.Error()
				}
				return errors.New(msg)
			}
			return ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}

// progressLine sums an application up on one line, e.g.
// "app: DEPLOYING; d UPDATING 1/2 running (STARTING 1)".
func progressLine(a admin.GantryApplication) string {
	var b strings.Builder
	b.WriteString(a.Name + ": " + a.Status)
	for _, name := range sortedKeys(a.Deployments) {
		d := a.Deployments[name]
		counts := replicaStates(d.Replicas)
		fmt.Fprintf(&b, "; %s %s %d/%d running", name, d.Status, counts[string(replica.Running)], d.TargetNumReplicas)
		var others []string
		for _, s := range replica.States {
			if n := counts[string(s)]; n > 0 && s != replica.Running {
				others = append(others, fmt.Sprintf("%s %d", s, n))
			}
		}
		if len(others) > 0 {
			b.WriteString(" (" + strings.Join(others, ", ") + ")")
		}
	}
	return b.String()
}

func replicaStates(rs []admin.GantryReplica) map[string]int {
	counts := map[string]int{}
	for _, r := range rs {
		counts[r.State]++
	}
	return counts
}

// statusDoc is what gantry status prints: Ray's `serve status` document,
// with Gantry's replica states (PENDING included).
type statusDoc struct {
	Proxies        map[string]string    `json:"proxies"`
	Applications   map[string]appStatus `json:"applications"`
	TargetCapacity *float64             `json:"target_capacity"`
}

type appStatus struct {
	Status            string               `json:"status"`
	Message           string               `json:"message"`
	LastDeployedTimeS float64              `json:"last_deployed_time_s"`
	Deployments       map[string]depStatus `json:"deployments"`
}

type depStatus struct {
	Status        string         `json:"status"`
	StatusTrigger string         `json:"status_trigger"`
	ReplicaStates map[string]int `json:"replica_states"`
	Message       string         `json:"message"`
}

func statusCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, v, name, err := fetchView(ctx, "status", "show only this application", args, stderr)
	if err != nil {
		return err
	}
	doc := statusDoc{Proxies: map[string]string{}, Applications: map[string]appStatus{}, TargetCapacity: v.TargetCapacity}
	for id, p := range v.Proxies {
		doc.Proxies[id] = p.Status
	}
	for an, a := range v.Applications {
		as := appStatus{Status: a.Status, Message: a.Message, LastDeployedTimeS: a.LastDeployedTimeS, Deployments: map[string]depStatus{}}
		for dn, d := range a.Deployments {
			as.Deployments[dn] = depStatus{Status: d.Status, StatusTrigger: d.StatusTrigger, ReplicaStates: replicaStates(d.Replicas), Message: d.Message}
		}
		doc.Applications[an] = as
	}
	var out any = doc
	if name != "" {
		a, ok := doc.Applications[name]
		if !ok {
			return fmt.Errorf("application %q does not exist at %s (it has: %s)", name, c.base, strings.Join(sortedKeys(doc.Applications), ", "))
		}
		out = a
	}
	return printYAML(stdout, out)
}

func configCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, v, name, err := fetchView(ctx, "config", "print only this application's config", args, stderr)
	if err != nil {
		return err
	}
	if name != "" {
		a, ok := v.Applications[name]
		if !ok {
			return fmt.Errorf("no config has been deployed for application %q at %s", name, c.base)
		}
		return printYAML(stdout, a.DeployedAppConfig)
	}
	if v.Config == nil {
		fmt.Fprintln(stdout, "No configuration was found.")
		return nil
	}
	if v.Config.Applications == nil {
		v.Config.Applications = []config.Application{}
	}
	return printYAML(stdout, v.Config)
}

// fetchView parses the flags of `gantry status` and `gantry config`
// (-n APP and the client flags) and fetches the gateway's view.
func fetchView(ctx context.Context, cmd, nameHelp string, args []string, stderr io.Writer) (*apiClient, *admin.GantryInstance, string, error) {
	var cf clientFlags
	var name string
	fs := newFlagSet("gantry "+cmd, "gantry "+cmd+" [-n APP] [--address URL]", stderr)
	cf.register(fs)
	fs.StringVar(&name, "n", "", nameHelp)
	fs.StringVar(&name, "name", "", nameHelp)
	if pos, err := parseArgs(fs, args); err != nil {
		return nil, nil, "", err
	} else if len(pos) > 0 {
		return nil, nil, "", usageError{fmt.Sprintf("gantry %s takes no arguments, got %q", cmd, pos)}
	}
	c, err := newAPIClient(cf)
	if err != nil {
		return nil, nil, "", err
	}
	v, err := c.view(ctx)
	return c, v, name, err
}

func shutdownCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cf clientFlags
	var yes bool
	fs := newFlagSet("gantry shutdown", "gantry shutdown [-y] [--address URL] [--admin-token TOKEN]", stderr)
	cf.register(fs)
	fs.BoolVar(&yes, "y", false, "do not ask for confirmation")
	fs.BoolVar(&yes, "yes", false, "do not ask for confirmation")
	if pos, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(pos) > 0 {
		return usageError{fmt.Sprintf("gantry shutdown takes no arguments, got %q", pos)}
	}
	c, err := newAPIClient(cf)
	if err != nil {
		return err
	}
	if !yes {
		fmt.Fprintf(stdout, "This deletes every application at %s and stops their replicas. Continue? [y/N] ", c.base)
		answer, _ := bufio.NewReader(stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return errors.New("aborted: nothing was deleted")
		}
	}
	if err := c.deleteAll(ctx); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Sent the shutdown to %s: every application is being deleted.\n", c.base)
	return nil
}

// printYAML writes v as YAML.
func printYAML(w io.Writer, v any) error {
	b, err := yaml.Marshal(v)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

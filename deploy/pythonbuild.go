package deploy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"gantry.dev/gantry/deploy/config"
)

// DefaultBuildTimeout bounds one `python -m gantry_serve.build`.
const DefaultBuildTimeout = 60 * time.Second

// PythonBuilder is the GraphBuilder of the local backend: it runs
// `{python} -m gantry_serve.build IMPORT_PATH` in the application's
// working_dir, with PYTHONPATH starting with it, GANTRY_APPLICATION and
// runtime_env.env_vars in its environment, and reads the graph it prints
// as JSON (the last line of its output that starts with "{", so that what
// the user's module prints while it is imported does no harm). On failure
// the error is the builder's stderr: it names the module and the Python
// exception.
type PythonBuilder struct {
	// Timeout bounds one build; default DefaultBuildTimeout.
	Timeout time.Duration
}

// maxBuildOutput bounds what is kept of a build's stdout and stderr.
const maxBuildOutput = 1 << 20

// Build runs the SDK's graph builder for app.
func (b PythonBuilder) Build(ctx context.Context, app config.PythonApp) (Graph, error) {
	timeout := b.Timeout
	if timeout <= 0 {
		timeout = DefaultBuildTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, app.Python, "-m", "gantry_serve.build", app.ImportPath)
	cmd.Dir = app.WorkingDir
	cmd.Env = os.Environ()
	for k, v := range app.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, "GANTRY_APPLICATION="+app.Application)
	if app.WorkingDir != "" {
		cmd.Env = append(cmd.Env, "PYTHONPATH="+pythonPath(app.WorkingDir))
	}
	var stdout, stderr limitedBuffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	err := cmd.Run()
	switch {
	case errors.Is(ctx.Err(), context.DeadlineExceeded):
		return Graph{}, fmt.Errorf("importing %s took longer than %v (%s -m gantry_serve.build was stopped); "+
			"a module should not load models when imported: load them in the deployment's constructor%s",
			app.ImportPath, timeout, app.Python, lastLines(stderr.String()))
	case ctx.Err() != nil:
		return Graph{}, ctx.Err()
	case err != nil:
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = fmt.Sprintf("%s -m gantry_serve.build %s failed (%v) without a message", app.Python, app.ImportPath, err)
		}
		if strings.Contains(msg, "No module named gantry_serve") {
			msg += "\n(install the SDK into that Python: " + app.Python + " -m pip install gantry-serve, or set applications[].python)"
		}
		return Graph{}, errors.New(truncateText(msg, 8<<10))
	}
	return parseGraph(stdout.String())
}

// parseGraph reads the graph from the builder's output: its last line
// that starts with "{".
func parseGraph(out string) (Graph, error) {
	lines := strings.Split(strings.TrimSpace(out), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		line := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var g Graph
		dec := json.NewDecoder(strings.NewReader(line))
		dec.UseNumber()
		if err := dec.Decode(&g); err != nil {
			return Graph{}, fmt.Errorf("gantry_serve.build printed a graph that is not valid JSON: %v", err)
		}
		return g, nil
	}
	return Graph{}, errors.New("gantry_serve.build printed no graph (a JSON object on stdout); is the gantry-serve in that Python up to date?")
}

// jsonOf encodes a graph deployment's options for config.MergeDeployment.
func jsonOf(options map[string]any) (json.RawMessage, error) {
	if len(options) == 0 {
		return nil, nil
	}
	return json.Marshal(options)
}

// hashTree returns the first 16 hex digits of a SHA-256 over the files
// under dir: their paths, whether they are executable, and their contents.
// Hidden files and folders (".git", ".venv") and Python's caches
// (__pycache__, *.pyc), which change without the code changing, are left
// out. An empty dir gives "".
func hashTree(dir string) (string, error) {
	if dir == "" {
		return "", nil
	}
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := e.Name()
		if path != dir && (strings.HasPrefix(name, ".") || name == "__pycache__") {
			if e.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if !e.Type().IsRegular() || strings.HasSuffix(name, ".pyc") {
			return nil
		}
		rel, _ := filepath.Rel(dir, path)
		info, err := e.Info()
		if err != nil {
			return err
		}
		fmt.Fprintf(h, "%s\x00%v\x00%d\x00", filepath.ToSlash(rel), info.Mode()&0o111 != 0, info.Size())
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(h, f)
		return err
	})
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// limitedBuffer keeps the last maxBuildOutput bytes written to it.
type limitedBuffer struct{ b bytes.Buffer }

func (l *limitedBuffer) Write(p []byte) (int, error) {
	n := len(p)
	l.b.Write(p)
	if over := l.b.Len() - maxBuildOutput; over > 0 {
		l.b.Next(over)
	}
	return n, nil
}

func (l *limitedBuffer) String() string { return l.b.String() }

// lastLines is ": " and the last lines of s, or "" when s is empty.
func lastLines(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	lines := strings.Split(s, "\n")
	if len(lines) > 10 {
		lines = lines[len(lines)-10:]
	}
	return "; its last output:\n" + strings.Join(lines, "\n")
}

// truncateText keeps the end of s (where Python's exception is) within n bytes.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

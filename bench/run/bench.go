package main

import (
	"context"
	"fmt"
	"os"
	"slices"
	"time"
)

// bench is one benchmark session: its options, work directory, built
// binaries and the processes it started.
type bench struct {
	opts  options
	work  string  // temporary directory for binaries, configs, logs
	root  string  // module root, where `go build` runs
	procs procSet // everything started, stopped on exit

	upstreamBin string
	gantryBin   string
	gantry      *gantryPorts // set once gantry is running
	profileTop  string       // pprof -top output, if profiled
}

// target is one thing under measurement: a name and the URL wrk loads.
type target struct {
	name string
	url  string
}

// measurement is one measured wrk run.
type measurement struct {
	target   string
	conns    int
	res      wrkResult
	profiled bool // gantry was CPU-profiled during this run
}

// run does the whole benchmark: set up, start, warm up, measure, report.
func (b *bench) run(ctx context.Context) error {
	if err := b.setup(ctx); err != nil {
		return err
	}
	printMachine(os.Stdout)
	targets, err := b.startTargets(ctx)
	if err != nil {
		return err
	}
	if err := b.warmUp(ctx, targets); err != nil {
		return err
	}
	ms, err := b.measureAll(ctx, targets)
	if err != nil {
		return err
	}
	rows := medians(ms)
	printResults(os.Stdout, rows, b.opts.markdown)
	printComparison(os.Stdout, rows, b.opts.conns, b.opts.markdown)
	if b.profileTop != "" {
		printProfile(os.Stdout, b.profileTop, b.opts.markdown)
	}
	if b.opts.keep {
		fmt.Printf("\nwork directory kept: %s\n", b.work)
	}
	return nil
}

// setup finds the module, installs missing tools and builds the binaries.
// Gantry is built first so that a broken gateway fails fast.
func (b *bench) setup(ctx context.Context) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	b.root = root
	if b.wants(targetGantry) {
		if b.gantryBin, err = b.build(ctx, "./cmd/gantry", "gantry"); err != nil {
			return fmt.Errorf("gantry did not build: %w\n(measure the baselines alone with --only direct,nginx)", err)
		}
	}
	if b.upstreamBin, err = b.build(ctx, "./bench/upstream", "upstream"); err != nil {
		return fmt.Errorf("upstream did not build: %w", err)
	}
	return ensureTools(ctx, b.wants(targetNginx))
}

// wants reports whether target t was selected with --only.
func (b *bench) wants(t string) bool {
	return slices.Contains(b.opts.targets, t)
}

// startTargets starts the upstream and whichever proxies were selected. The
// upstream runs even when direct is not measured: nginx proxies to it.
func (b *bench) startTargets(ctx context.Context) ([]target, error) {
	direct, port, err := b.startUpstream(ctx)
	if err != nil {
		return nil, err
	}
	var out []target
	if b.wants(targetDirect) {
		out = append(out, direct)
	}
	if b.wants(targetNginx) {
		t, err := b.startNginx(ctx, port)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	if b.wants(targetGantry) {
		t, err := b.startGantry(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// warmUp loads each target briefly so that connection pools, caches and the
// Go runtimes settle before anything is measured.
func (b *bench) warmUp(ctx context.Context, targets []target) error {
	if b.opts.warmup <= 0 {
		return nil
	}
	conns := max(slices.Max(b.opts.conns), 32)
	for _, t := range targets {
		logf("warm-up %-6s %d connections, %s", t.name, conns, b.opts.warmup)
		if _, err := runWrk(ctx, t.url, b.threadsFor(conns), conns, b.opts.warmup); err != nil {
			return fmt.Errorf("warm-up of %s: %w", t.name, err)
		}
	}
	return nil
}

// measureAll runs every (connection count, target) pair --runs times. At each
// connection count the targets run back to back, and each round starts with a
// different target, so slow drift of the machine is shared fairly.
func (b *bench) measureAll(ctx context.Context, targets []target) ([]measurement, error) {
	var out []measurement
	profileConns := pickProfileConns(b.opts.conns)
	for round := range b.opts.runs {
		for _, c := range b.opts.conns {
			for _, t := range rotate(targets, round) {
				profile := b.opts.profile && round == 0 && c == profileConns && t.name == targetGantry
				m, err := b.measure(ctx, t, c, profile)
				if err != nil {
					return nil, err
				}
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// measure runs wrk once against t, optionally profiling gantry meanwhile.
func (b *bench) measure(ctx context.Context, t target, conns int, profile bool) (measurement, error) {
	var prof *profileJob
	if profile {
		prof = b.startProfile(ctx)
	}
	res, err := runWrk(ctx, t.url, b.threadsFor(conns), conns, b.opts.duration)
	profiled := prof != nil && b.finishProfile(ctx, prof)
	if err != nil {
		return measurement{}, fmt.Errorf("%s, %d connections: %w", t.name, conns, err)
	}
	logf("%-6s c=%-3d %10.0f req/s  p50 %s  p99 %s  errors %d",
		t.name, conns, res.ReqPerSec, ms(res.P50), ms(res.P99), res.Errors())
	return measurement{target: t.name, conns: conns, res: res, profiled: profiled}, nil
}

// threadsFor is the wrk thread count for a connection count: -t1 for one
// connection, else --threads (wrk needs at least one connection per thread).
func (b *bench) threadsFor(conns int) int {
	return min(b.opts.threads, conns)
}

// removeWork deletes the work directory unless --keep was given.
func (b *bench) removeWork() {
	if !b.opts.keep {
		_ = os.RemoveAll(b.work)
	}
}

// pickProfileConns is the connection count whose gantry run is profiled:
// 32 if measured, else the largest.
func pickProfileConns(conns []int) int {
	if slices.Contains(conns, 32) {
		return 32
	}
	return slices.Max(conns)
}

// rotate returns ts rotated left by n.
func rotate(ts []target, n int) []target {
	n %= len(ts)
	return append(slices.Clone(ts[n:]), ts[:n]...)
}

// ms formats a duration in milliseconds with microsecond resolution.
func ms(d time.Duration) string {
	return fmt.Sprintf("%.3f ms", float64(d)/float64(time.Millisecond))
}

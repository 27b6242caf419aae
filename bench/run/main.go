// Command run is Gantry's data-path benchmark. It builds gantry and a tiny
// JSON upstream (bench/upstream), then measures the same upstream three ways
// with wrk, all on 127.0.0.1:
//
//   - direct: the upstream itself, the ceiling;
//   - nginx: nginx as a keep-alive reverse proxy in front of it, the bar;
//   - gantry: `gantry serve` running the upstream as its only replica.
//
// Throughput is measured with many connections (-c32, -c64) and the cost of
// one hop with a single connection (-c1), where p50 is not inflated by
// queueing. Targets are interleaved at each connection count so that drift in
// the machine affects all of them alike. The result is a table of req/s, p50
// and p99 per target and connection count, the throughput ratios gantry/direct
// and gantry/nginx, and the latency each proxy adds over direct at one
// connection. With --profile it also takes a CPU profile of gantry during its
// 32-connection run and prints `go tool pprof -top`.
//
// Usage, from the repository root:
//
//	go run ./bench/run [--duration 10s] [--conns 1,32,64] [--only direct,nginx,gantry] [--profile]
//
// Every process it starts is stopped on exit, on error and on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Target names, in the order they are measured and reported.
const (
	targetDirect = "direct"
	targetNginx  = "nginx"
	targetGantry = "gantry"
)

var allTargets = []string{targetDirect, targetNginx, targetGantry}

// options are the command-line flags.
type options struct {
	duration time.Duration // length of one measured wrk run
	warmup   time.Duration // length of the warm-up run per target
	conns    []int         // connection counts to measure
	threads  int           // wrk threads for runs with more than one connection
	runs     int           // rounds; the median round by req/s is reported
	targets  []string      // targets to measure
	profile  bool          // take a CPU profile of gantry
	keep     bool          // keep the work directory (logs, configs, profile)
	markdown bool          // print tables as Markdown
	access   bool          // gantry with its access log on
	grpc     bool          // measure gRPC ModelInfer instead of HTTP (grpc.go)
}

func main() {
	os.Exit(run())
}

// run returns the process exit code; deferred cleanup runs before it is used.
func run() int {
	opts, err := parseFlags(os.Args[1:])
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	work, err := os.MkdirTemp("", "gantry-bench-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		return 1
	}
	b := &bench{opts: opts, work: work}
	defer b.removeWork()
	defer b.procs.stopAll()

	runBench := b.run
	if opts.grpc {
		runBench = b.runGRPC
	}
	if err := runBench(ctx); err != nil {
		if ctx.Err() != nil {
			fmt.Fprintln(os.Stderr, "bench: interrupted; stopping everything")
			return 130
		}
		fmt.Fprintln(os.Stderr, "bench:", err)
		if !opts.keep {
			fmt.Fprintln(os.Stderr, "bench: the work directory is removed on exit; --keep keeps its logs and configs")
		}
		return 1
	}
	return 0
}

// parseFlags parses and checks the command line.
func parseFlags(args []string) (options, error) {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	var o options
	var conns, only string
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each measured run")
	fs.DurationVar(&o.warmup, "warmup", 2*time.Second, "length of the warm-up run per target (0: none)")
	fs.StringVar(&conns, "conns", "1,32,64", "comma-separated connection counts (1 measures the added latency of one hop)")
	fs.IntVar(&o.threads, "threads", 2, "wrk threads for runs with more than one connection")
	fs.IntVar(&o.runs, "runs", 1, "rounds of every run; the median round by req/s is reported")
	fs.StringVar(&only, "only", strings.Join(allTargets, ","), "comma-separated targets: direct, nginx, gantry")
	fs.BoolVar(&o.profile, "profile", false, "fetch a CPU profile from gantry's /debug/pprof/profile during its 32-connection run")
	fs.BoolVar(&o.keep, "keep", false, "keep the work directory (logs, generated configs, profile)")
	fs.BoolVar(&o.markdown, "markdown", false, "print the tables as Markdown (for bench/RESULTS.md)")
	fs.BoolVar(&o.access, "access-log", false, "run gantry with its access log on (its default; off by default here, as for nginx)")
	fs.BoolVar(&o.grpc, "grpc", false, "measure unary gRPC ModelInfer (Open Inference Protocol), gantry vs direct, with a Go load generator; --conns are concurrent calls")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %q", fs.Args())
	}
	var err error
	if o.conns, err = parseConns(conns); err != nil {
		return o, err
	}
	if o.targets, err = parseTargets(only); err != nil {
		return o, err
	}
	if o.duration < time.Second || o.threads < 1 || o.runs < 1 {
		return o, errors.New("--duration must be at least 1s, --threads and --runs at least 1")
	}
	return o, nil
}

// parseConns parses a list like "1,32,64".
func parseConns(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("--conns: %q is not a positive count", f)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// parseTargets parses a list like "direct,nginx", keeping the canonical order.
func parseTargets(s string) ([]string, error) {
	want := map[string]bool{}
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if !slices.Contains(allTargets, f) {
			return nil, fmt.Errorf("--only: unknown target %q (want direct, nginx, gantry)", f)
		}
		want[f] = true
	}
	var out []string
	for _, t := range allTargets {
		if want[t] {
			out = append(out, t)
		}
	}
	return out, nil
}

// logf prints a progress line to stderr; results go to stdout.
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	pb "gantry.dev/gantry/oip/inferencepb"
)

// The gRPC mode (--grpc): unary ModelInfer calls of the Open Inference
// Protocol, to the gRPC test replica (internal/testgrpcreplica) directly
// and through `gantry serve` (replica.protocol: grpc), with a Go load
// generator: c goroutines, each calling in a closed loop over one shared
// connection, for --duration. Targets alternate at each concurrency, as in
// the HTTP mode, so machine drift hits both.

// grpcResult is one measured run.
type grpcResult struct {
	target   string
	conc     int
	calls    int
	errors   int
	rps      float64
	p50, p99 time.Duration
}

func (b *bench) runGRPC(ctx context.Context) error {
	root, err := moduleRoot(ctx)
	if err != nil {
		return err
	}
	b.root = root
	if b.gantryBin, err = b.build(ctx, "./cmd/gantry", "gantry"); err != nil {
		return fmt.Errorf("gantry did not build: %w", err)
	}
	replicaBin, err := b.build(ctx, "./internal/testgrpcreplica", "testgrpcreplica")
	if err != nil {
		return err
	}
	printMachine(os.Stdout)

	ports, err := freePorts(4)
	if err != nil {
		return err
	}
	direct := fmt.Sprintf("127.0.0.1:%d", ports[0])
	if _, err := b.procs.start("replica", b.path("replica.log"), 5*time.Second,
		[]string{"PORT=" + strconv.Itoa(ports[0])}, replicaBin); err != nil {
		return err
	}
	conf := b.path("gantry-grpc.yaml")
	if err := os.WriteFile(conf, gantryGRPCConf(replicaBin), 0o644); err != nil {
		return err
	}
	if _, err := b.procs.start("gantry", b.path("gantry.log"), 25*time.Second, nil, b.gantryBin, "serve",
		"--http-port", strconv.Itoa(ports[1]), "--grpc-port", strconv.Itoa(ports[2]),
		"--dashboard-port", strconv.Itoa(ports[3]), "--state-dir", b.path("state"), conf); err != nil {
		return err
	}
	gateway := fmt.Sprintf("127.0.0.1:%d", ports[2])
	b.gantry = &gantryPorts{http: ports[1], grpc: ports[2], dashboard: ports[3]}
	targets := []struct{ name, addr string }{{targetDirect, direct}, {targetGantry, gateway}}
	clients := map[string]pb.GRPCInferenceServiceClient{}
	for _, t := range targets {
		cc, err := grpc.NewClient("passthrough:///"+t.addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			return err
		}
		defer cc.Close()
		c := pb.NewGRPCInferenceServiceClient(cc)
		if err := waitInfer(ctx, c, time.Now().Add(gantryReady)); err != nil {
			return fmt.Errorf("%s at %s not ready: %w", t.name, t.addr, err)
		}
		clients[t.name] = c
		logf("%s ready on %s", t.name, t.addr)
	}

	var results []grpcResult
	for _, conc := range b.opts.conns {
		for i := range b.opts.runs {
			for j := range targets {
				t := targets[(i+j)%len(targets)]
				if b.opts.warmup > 0 {
					loadInfer(ctx, clients[t.name], conc, b.opts.warmup)
				}
				var job *profileJob
				if b.opts.profile && t.name == targetGantry && conc == pickProfileConns(b.opts.conns) && i == 0 {
					job = b.startProfile(ctx)
				}
				r := loadInfer(ctx, clients[t.name], conc, b.opts.duration)
				if job != nil {
					b.finishProfile(ctx, job)
				}
				r.target, r.conc = t.name, conc
				logf("%s c=%d: %.0f calls/s, p50 %s, p99 %s, %d errors", t.name, conc, r.rps, r.p50, r.p99, r.errors)
				results = append(results, r)
			}
		}
	}
	printGRPC(os.Stdout, medianGRPC(results), b.opts.conns, b.opts.markdown)
	if b.profileTop != "" {
		printProfile(os.Stdout, b.profileTop, b.opts.markdown)
	}
	return ctx.Err()
}

// gantryGRPCConf: application "bench" whose one replica is the gRPC test
// replica; not exposed over HTTP.
func gantryGRPCConf(replicaBin string) []byte {
	conf := map[string]any{
		"logging_config": map[string]any{"enable_access_log": false},
		"applications": []any{map[string]any{
			"name": "bench", "route_prefix": nil,
			"deployments": []any{map[string]any{
				"name": "echo", "num_replicas": 1, "max_ongoing_requests": 1000,
				"replica": map[string]any{"command": []string{replicaBin}, "protocol": "grpc"},
			}},
		}},
	}
	data, _ := json.MarshalIndent(conf, "", "  ")
	return data
}

// benchRequest is a small inference: one INT32 tensor of 16 elements.
var benchRequest = &pb.ModelInferRequest{ModelName: "bench", Inputs: []*pb.ModelInferRequest_InferInputTensor{
	{Name: "x", Datatype: "INT32", Shape: []int64{16}}}, RawInputContents: [][]byte{make([]byte, 64)}}

func waitInfer(ctx context.Context, c pb.GRPCInferenceServiceClient, deadline time.Time) error {
	for {
		callCtx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := c.ModelInfer(callCtx, benchRequest)
		cancel()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// loadInfer runs conc closed-loop callers for d.
func loadInfer(ctx context.Context, c pb.GRPCInferenceServiceClient, conc int, d time.Duration) grpcResult {
	ctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	lat := make([][]time.Duration, conc)
	errs := make([]int, conc)
	var firstErr sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for i := range conc {
		wg.Go(func() {
			for ctx.Err() == nil {
				t0 := time.Now()
				_, err := c.ModelInfer(ctx, benchRequest)
				// The run's end: calls have no other deadline.
				if ctx.Err() != nil || status.Code(err) == codes.DeadlineExceeded {
					return
				}
				if err != nil {
					errs[i]++
					firstErr.Do(func() { logf("first error: %v", err) })
					continue
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	var all []time.Duration
	r := grpcResult{}
	for i := range conc {
		all = append(all, lat[i]...)
		r.errors += errs[i]
	}
	slices.Sort(all)
	r.calls = len(all)
	r.rps = float64(len(all)) / elapsed.Seconds()
	if len(all) > 0 {
		r.p50, r.p99 = all[len(all)/2], all[len(all)*99/100]
	}
	return r
}

// medianGRPC keeps, per target and concurrency, the run with the median
// calls/s.
func medianGRPC(rs []grpcResult) []grpcResult {
	groups := map[string][]grpcResult{}
	var keys []string
	for _, r := range rs {
		k := r.target + "/" + strconv.Itoa(r.conc)
		if _, ok := groups[k]; !ok {
			keys = append(keys, k)
		}
		groups[k] = append(groups[k], r)
	}
	var out []grpcResult
	for _, k := range keys {
		g := groups[k]
		slices.SortFunc(g, func(a, b grpcResult) int { return int(a.rps - b.rps) })
		out = append(out, g[len(g)/2])
	}
	return out
}

func printGRPC(w io.Writer, rs []grpcResult, concs []int, markdown bool) {
	find := func(target string, c int) *grpcResult {
		for i := range rs {
			if rs[i].target == target && rs[i].conc == c {
				return &rs[i]
			}
		}
		return nil
	}
	row := func(cells ...string) {
		if markdown {
			fmt.Fprintf(w, "| %s |\n", strings.Join(cells, " | "))
		} else {
			fmt.Fprintln(w, strings.Join(cells, "\t"))
		}
	}
	fmt.Fprintf(w, "gRPC ModelInfer (unary, 64-byte INT32 input), Go client, %d CPUs\n\n", runtime.NumCPU())
	row("concurrency", "direct calls/s", "direct p50", "gantry calls/s", "gantry p50", "gantry p99", "gantry/direct", "p50 added")
	if markdown {
		row("---", "---", "---", "---", "---", "---", "---", "---")
	}
	for _, c := range concs {
		d, g := find(targetDirect, c), find(targetGantry, c)
		if d == nil || g == nil {
			continue
		}
		row(strconv.Itoa(c), fmt.Sprintf("%.0f", d.rps), us(d.p50), fmt.Sprintf("%.0f", g.rps), us(g.p50), us(g.p99),
			fmt.Sprintf("%.2f", g.rps/d.rps), us(g.p50-d.p50))
		if d.errors+g.errors > 0 {
			fmt.Fprintf(w, "  (errors: direct %d, gantry %d)\n", d.errors, g.errors)
		}
	}
}

func us(d time.Duration) string { return strconv.FormatInt(d.Microseconds(), 10) + " µs" }

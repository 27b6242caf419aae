package imagine

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// maxImageBytes bounds one response body.
const maxImageBytes = 64 << 20

// options are the parsed command line.
type options struct {
	url         string
	n           int
	concurrency int
	prompts     []string
	seed        uint64
	out         string
	steps       int
	size        int
	timeout     time.Duration
}

// promptFlag collects repeated --prompt flags.
type promptFlag []string

func (p *promptFlag) String() string { return strings.Join(*p, " | ") }
func (p *promptFlag) Set(v string) error {
	if strings.TrimSpace(v) == "" {
		return errors.New("a prompt must not be empty")
	}
	*p = append(*p, v)
	return nil
}

func parseFlags(args []string, stdout io.Writer) (options, error) {
	var o options
	var prompts promptFlag
	fs := flag.NewFlagSet("imagine", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8000", "the gateway (or painter) to send requests to")
	fs.IntVar(&o.n, "n", 8, "number of images to request")
	fs.IntVar(&o.n, "num-requests", 8, "same as -n")
	fs.IntVar(&o.concurrency, "concurrency", 8, "requests in flight at once")
	fs.Var(&prompts, "prompt", "a prompt to send; repeat for more (default: drawn from a built-in list)")
	fs.Uint64Var(&o.seed, "seed", 0, "chooses which built-in prompts are drawn")
	fs.StringVar(&o.out, "out", "diffusion_results.png", "where to write the grid of images (empty: nowhere)")
	fs.IntVar(&o.steps, "steps", 0, "refinement steps per image (0: the server's default)")
	fs.IntVar(&o.size, "size", 0, "image width and height in pixels, sent as img_size (0: the server's default)")
	fs.DurationVar(&o.timeout, "timeout", 2*time.Minute, "time limit for each request")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gantry imagine [flags]\n\nSends text-to-image requests in parallel and tiles the results into one PNG.\n\nFlags:")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q (quote a prompt and pass it with --prompt)", fs.Args())
	}
	nSet := false
	fs.Visit(func(f *flag.Flag) { nSet = nSet || f.Name == "n" || f.Name == "num-requests" })
	if len(prompts) > 0 && !nSet {
		o.n = len(prompts)
	}
	switch {
	case o.n < 1:
		return o, fmt.Errorf("-n must be at least 1, got %d", o.n)
	case o.concurrency < 1:
		return o, fmt.Errorf("--concurrency must be at least 1, got %d", o.concurrency)
	case o.steps < 0:
		return o, fmt.Errorf("--steps must not be negative, got %d", o.steps)
	case o.size < 0:
		return o, fmt.Errorf("--size must not be negative, got %d", o.size)
	case o.timeout <= 0:
		return o, fmt.Errorf("--timeout must be positive, got %s", o.timeout)
	}
	u, err := url.Parse(o.url)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return o, fmt.Errorf("--url must be an http:// or https:// URL, got %q", o.url)
	}
	o.prompts = choosePrompts(prompts, o.n, o.seed)
	return o, nil
}

// choosePrompts returns n prompts: the given ones in turn, or ones drawn
// from the built-in list in an order fixed by seed.
func choosePrompts(given []string, n int, seed uint64) []string {
	out := make([]string, 0, n)
	if len(given) > 0 {
		for i := range n {
			out = append(out, given[i%len(given)])
		}
		return out
	}
	list := builtinPrompts()
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	for len(out) < n {
		for _, i := range r.Perm(len(list)) {
			if len(out) == n {
				break
			}
			out = append(out, list[i])
		}
	}
	return out
}

// result is the outcome of one request.
type result struct {
	prompt  string
	latency time.Duration
	size    int
	replica string
	img     image.Image
	err     error
}

// Main implements `gantry imagine`: it sends n prompts to GET /imagine with
// at most --concurrency in flight, prints one line per image and a summary
// to stdout, and tiles the images into a grid of 2 rows (1 for a single
// image) written to --out. It returns an error if any request failed,
// after writing what did succeed.
func Main(ctx context.Context, args []string, stdout io.Writer) error {
	o, err := parseFlags(args, stdout)
	if err != nil {
		return err
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.MaxIdleConnsPerHost = o.concurrency
	client := &http.Client{Timeout: o.timeout, Transport: transport}
	defer transport.CloseIdleConnections()

	fmt.Fprintf(stdout, "sending %d requests to %s/imagine, %d at a time\n", o.n, strings.TrimSuffix(o.url, "/"), o.concurrency)
	results := make([]result, o.n)
	var (
		mu   sync.Mutex
		done int
	)
	start := time.Now()
	var g errgroup.Group
	g.SetLimit(o.concurrency)
	for i, prompt := range o.prompts {
		g.Go(func() error {
			res := fetch(ctx, client, o, prompt)
			mu.Lock()
			defer mu.Unlock()
			results[i] = res
			done++
			if res.err != nil {
				fmt.Fprintf(stdout, "[%d/%d] FAILED after %s: %v  %q\n", done, o.n, ms(res.latency), res.err, prompt)
				return nil
			}
			replica := ""
			if res.replica != "" {
				replica = "  replica " + res.replica
			}
			fmt.Fprintf(stdout, "[%d/%d] %8s %9s%s  %q\n", done, o.n, ms(res.latency), kib(res.size), replica, prompt)
			return nil
		})
	}
	_ = g.Wait() // the goroutines report failures in results, never here
	elapsed := time.Since(start)
	return summarize(stdout, o, results, elapsed)
}

func fetch(ctx context.Context, client *http.Client, o options, prompt string) (res result) {
	res.prompt = prompt
	q := url.Values{"prompt": {prompt}}
	if o.steps > 0 {
		q.Set("steps", strconv.Itoa(o.steps))
	}
	if o.size > 0 {
		q.Set("img_size", strconv.Itoa(o.size))
	}
	target := strings.TrimSuffix(o.url, "/") + "/imagine?" + q.Encode()
	start := time.Now()
	defer func() { res.latency = time.Since(start) }()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		res.err = err
		return res
	}
	resp, err := client.Do(req)
	if err != nil {
		res.err = err
		return res
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxImageBytes+1))
	switch {
	case err != nil:
		res.err = fmt.Errorf("reading the response: %w", err)
		return res
	case len(body) > maxImageBytes:
		res.err = fmt.Errorf("response larger than %d bytes", maxImageBytes)
		return res
	case resp.StatusCode != http.StatusOK:
		res.err = fmt.Errorf("%s: %s", resp.Status, strings.TrimSpace(string(body[:min(len(body), 300)])))
		return res
	}
	res.size = len(body)
	res.replica = resp.Header.Get("X-Painter-Replica")
	if res.img, err = png.Decode(bytes.NewReader(body)); err != nil {
		res.err = fmt.Errorf("not a PNG (Content-Type %q): %w", resp.Header.Get("Content-Type"), err)
	}
	return res
}

func summarize(stdout io.Writer, o options, results []result, elapsed time.Duration) error {
	var lat []time.Duration
	failed := 0
	for _, r := range results {
		if r.err != nil {
			failed++
			continue
		}
		lat = append(lat, r.latency)
	}
	ok := len(lat)
	fmt.Fprintf(stdout, "%d of %d images in %s (%.2f images/s)", ok, o.n, ms(elapsed), float64(ok)/elapsed.Seconds())
	if ok > 0 {
		slices.Sort(lat)
		fmt.Fprintf(stdout, "; latency min %s, p50 %s, max %s", ms(lat[0]), ms(lat[(ok-1)/2]), ms(lat[ok-1]))
	}
	fmt.Fprintln(stdout)
	if o.out != "" && ok > 0 {
		grid, rows, cols := tile(results)
		var buf bytes.Buffer
		if err := png.Encode(&buf, grid); err != nil {
			return fmt.Errorf("encoding the grid: %w", err)
		}
		if err := os.WriteFile(o.out, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("writing the grid: %w", err)
		}
		b := grid.Bounds()
		fmt.Fprintf(stdout, "wrote %s (%d rows x %d columns, %dx%d)\n", o.out, rows, cols, b.Dx(), b.Dy())
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d requests failed", failed, o.n)
	}
	return nil
}

// tile lays the images out row by row in 2 rows (1 for a single image);
// a failed request leaves its cell dark.
func tile(results []result) (*image.RGBA, int, int) {
	rows := 2
	if len(results) == 1 {
		rows = 1
	}
	cols := (len(results) + rows - 1) / rows
	cw, ch := 0, 0
	for _, r := range results {
		if r.img != nil {
			cw, ch = max(cw, r.img.Bounds().Dx()), max(ch, r.img.Bounds().Dy())
		}
	}
	grid := image.NewRGBA(image.Rect(0, 0, cols*cw, rows*ch))
	draw.Draw(grid, grid.Bounds(), image.NewUniform(color.RGBA{24, 24, 28, 255}), image.Point{}, draw.Src)
	for i, r := range results {
		if r.img == nil {
			continue
		}
		b := r.img.Bounds()
		x := i%cols*cw + (cw-b.Dx())/2
		y := i/cols*ch + (ch-b.Dy())/2
		draw.Draw(grid, image.Rect(x, y, x+b.Dx(), y+b.Dy()), r.img, b.Min, draw.Src)
	}
	return grid, rows, cols
}

func ms(d time.Duration) string { return strconv.FormatInt(d.Milliseconds(), 10) + " ms" }

func kib(n int) string { return strconv.FormatFloat(float64(n)/1024, 'f', 1, 64) + " KiB" }

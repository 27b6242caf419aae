package imagine

import (
	"bytes"
	"context"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gantry.dev/gantry/examples/stable-diffusion/painter"
)

func decodeFile(t *testing.T, path string) (w, h int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return img.Bounds().Dx(), img.Bounds().Dy()
}

func TestImagineAgainstPainter(t *testing.T) {
	t.Setenv("GANTRY_REPLICA_ID", "painter-1")
	var (
		mu        sync.Mutex
		prompts   []string
		inflight  atomic.Int32
		maxFlight atomic.Int32
	)
	h := painter.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			m := maxFlight.Load()
			if n <= m || maxFlight.CompareAndSwap(m, n) {
				break
			}
		}
		mu.Lock()
		prompts = append(prompts, r.URL.Query().Get("prompt"))
		mu.Unlock()
		if q := r.URL.Query(); r.Method != "GET" || q.Get("img_size") != "64" || q.Get("steps") != "2" {
			t.Errorf("request %s %s", r.Method, r.URL)
		}
		time.Sleep(20 * time.Millisecond) // let requests overlap
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()

	out := filepath.Join(t.TempDir(), "grid.png")
	var stdout bytes.Buffer
	args := []string{"--url", ts.URL, "-n", "5", "--concurrency", "2", "--size", "64", "--steps", "2", "--out", out, "--seed", "3"}
	if err := Main(context.Background(), args, &stdout); err != nil {
		t.Fatalf("Main: %v\n%s", err, stdout.String())
	}
	t.Logf("output:\n%s", stdout.String())
	lines := strings.Split(strings.TrimSpace(stdout.String()), "\n")
	if len(lines) != 1+5+2 {
		t.Fatalf("got %d lines, want a header, 5 images and 2 summary lines", len(lines))
	}
	for _, l := range lines[1:6] {
		if !strings.Contains(l, " ms") || !strings.Contains(l, "KiB") || !strings.Contains(l, "replica painter-1") || !strings.Contains(l, `"`) {
			t.Errorf("image line %q lacks latency, size, replica or prompt", l)
		}
		if strings.Contains(l, " 0 ms") {
			t.Errorf("image line %q: the server sleeps 20ms, latency cannot be 0", l)
		}
	}
	if !strings.HasPrefix(lines[6], "5 of 5 images in ") || !strings.Contains(lines[6], "p50") {
		t.Errorf("summary %q", lines[6])
	}
	if w, h := decodeFile(t, out); w != 3*64 || h != 2*64 {
		t.Errorf("grid is %dx%d, want 3 columns x 2 rows of 64px", w, h)
	}
	if m := maxFlight.Load(); m > 2 {
		t.Errorf("%d requests in flight, want at most 2", m)
	}
	// The same seed draws the same prompts.
	want := choosePrompts(nil, 5, 3)
	slices.Sort(want)
	slices.Sort(prompts)
	if !slices.Equal(prompts, want) {
		t.Errorf("server saw prompts %q, want %q", prompts, want)
	}
	if len(slices.Compact(slices.Clone(want))) != 5 {
		t.Errorf("5 draws from the built-in list repeat a prompt: %q", want)
	}
}

func TestImagineGivenPrompts(t *testing.T) {
	ts := httptest.NewServer(painter.Handler())
	defer ts.Close()
	out := filepath.Join(t.TempDir(), "one.png")
	var stdout bytes.Buffer
	args := []string{"--url", ts.URL + "/", "--prompt", "a cat & a moon?", "--size", "64", "--steps", "1", "--out", out}
	if err := Main(context.Background(), args, &stdout); err != nil {
		t.Fatalf("Main: %v\n%s", err, stdout.String())
	}
	if !strings.Contains(stdout.String(), `"a cat & a moon?"`) {
		t.Errorf("output does not name the prompt:\n%s", stdout.String())
	}
	if w, h := decodeFile(t, out); w != 64 || h != 64 {
		t.Errorf("one image: grid %dx%d, want 64x64 (1 row)", w, h)
	}
	if got := choosePrompts([]string{"a", "b"}, 5, 0); !slices.Equal(got, []string{"a", "b", "a", "b", "a"}) {
		t.Errorf("choosePrompts cycles given prompts as %q", got)
	}
	if got := choosePrompts(nil, 45, 1); len(got) != 45 {
		t.Errorf("choosePrompts(45) = %d prompts", len(got))
	}
}

func TestImagineReportsFailures(t *testing.T) {
	var calls atomic.Int32
	h := painter.Handler()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%2 == 0 {
			w.Header().Set("Retry-After", "1")
			http.Error(w, "queue full", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer ts.Close()
	out := filepath.Join(t.TempDir(), "partial.png")
	var stdout bytes.Buffer
	args := []string{"--url", ts.URL, "-n", "4", "--concurrency", "1", "--size", "64", "--steps", "1", "--out", out}
	err := Main(context.Background(), args, &stdout)
	if err == nil || !strings.Contains(err.Error(), "2 of 4 requests failed") {
		t.Errorf("Main = %v, want 2 of 4 failed", err)
	}
	if !strings.Contains(stdout.String(), "FAILED") || !strings.Contains(stdout.String(), "503") {
		t.Errorf("output does not show the failures:\n%s", stdout.String())
	}
	if w, h := decodeFile(t, out); w != 2*64 || h != 2*64 {
		t.Errorf("partial grid %dx%d, want 128x128", w, h)
	}
}

func TestImagineFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-n", "0"},
		{"--concurrency", "0"},
		{"--url", "localhost:8000"},
		{"--steps", "-1"},
		{"--prompt", ""},
		{"stray"},
		{"--no-such-flag"},
	} {
		var stdout bytes.Buffer
		if err := Main(context.Background(), args, &stdout); err == nil {
			t.Errorf("Main(%q) succeeded", args)
		}
	}
	// An unreachable gateway fails every request, and writes nothing.
	out := filepath.Join(t.TempDir(), "none.png")
	var stdout bytes.Buffer
	err := Main(context.Background(), []string{"--url", "http://127.0.0.1:1", "-n", "2", "--out", out}, &stdout)
	if err == nil || !strings.Contains(err.Error(), "2 of 2") {
		t.Errorf("unreachable: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("a grid was written with no images: %v", err)
	}
}

package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"time"
)

// profileJob is a CPU profile being fetched from gantry during a run.
type profileJob struct {
	path string
	done chan error
}

// startProfile starts fetching a CPU profile from gantry's dashboard port.
// It waits half a second for wrk to ramp up and profiles for the rest of the
// run, less half a second.
func (b *bench) startProfile(ctx context.Context) *profileJob {
	secs := max(1, int((b.opts.duration - time.Second).Seconds()))
	url := fmt.Sprintf("http://127.0.0.1:%d/debug/pprof/profile?seconds=%d", b.gantry.dashboard, secs)
	job := &profileJob{path: b.path("gantry.cpu.pprof"), done: make(chan error, 1)}
	go func() {
		select {
		case <-ctx.Done():
			job.done <- ctx.Err()
			return
		case <-time.After(500 * time.Millisecond):
		}
		job.done <- fetchTo(ctx, url, job.path, time.Duration(secs+15)*time.Second)
	}()
	return job
}

// finishProfile waits for the fetch and, if it worked, renders the profile's
// top entries into b.profileTop. It reports whether gantry was profiled. A
// failed fetch is reported, not fatal: profiling is optional.
func (b *bench) finishProfile(ctx context.Context, job *profileJob) bool {
	if err := <-job.done; err != nil {
		logf("no CPU profile from gantry (continuing without): %v", err)
		return false
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-nodecount=25",
		b.gantryBin, job.path).CombinedOutput()
	if err != nil {
		logf("go tool pprof failed (continuing): %v\n%s", err, trimOutput(out))
		return true
	}
	b.profileTop = string(out)
	if b.opts.keep {
		logf("CPU profile of gantry saved to %s", job.path)
	}
	return true
}

// fetchTo GETs url into the file at path; anything but 200 is an error.
func fetchTo(ctx context.Context, url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, body)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package local

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"
)

const (
	// tailLines is how many of a member's last lines LogTail can return.
	tailLines = 200
	// maxLineBytes bounds one line in the tail; the rest is dropped.
	maxLineBytes = 4 << 10
	// drainTimeout is how long Stop waits for output still buffered once the
	// member exited, or held open by a process outside the member (one the
	// member handed its output to over a socket, say).
	drainTimeout = 2 * time.Second
)

// openLog opens path for appending, creating it and its folder.
func openLog(path string) (*os.File, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create log folder: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	return f, nil
}

// logCopier copies a member's output from a pipe to its log file and tail.
// Its goroutine ends when every process holding the pipe has closed it, or
// when finish gives up waiting; it closes the pipe and the file.
type logCopier struct {
	pipe *os.File
	file *rotatingFile
	tail *tail
	done chan struct{}
}

func startCopier(pipe, file *os.File) *logCopier {
	c := &logCopier{pipe: pipe, file: newRotatingFile(file, LogMaxBytes, LogBackups), tail: newTail(tailLines), done: make(chan struct{})}
	go c.run()
	return c
}

func (c *logCopier) run() {
	defer close(c.done)
	defer c.file.Close()
	defer c.pipe.Close()
	buf := make([]byte, 32<<10)
	var fileErr error
	for {
		n, err := c.pipe.Read(buf)
		if n > 0 {
			// A failing log file must not block the member: keep
			// reading, keep the tail, and say so once in the tail.
			if _, werr := c.file.Write(buf[:n]); werr != nil && fileErr == nil {
				fileErr = werr
				fmt.Fprintf(c.tail, "gantry: writing %s: %v; further output is kept in memory only\n", c.file.Name(), werr)
			}
			c.tail.Write(buf[:n])
		}
		if err != nil { // io.EOF, or os.ErrClosed from finish
			return
		}
	}
}

// finish waits up to timeout for the output to end, then closes the pipe
// (a process still writing gets SIGPIPE) and waits for the copier to stop.
func (c *logCopier) finish(timeout time.Duration) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.pipe.Close()
		<-c.done
	}
}

// tail keeps the last lines written to it, in bounded memory. It is an
// io.Writer safe for concurrent use.
type tail struct {
	mu        sync.Mutex
	max       int
	lines     []string // a ring once len(lines) == max
	oldest    int      // index of the oldest line in a full ring
	partial   []byte   // the line being written, at most maxLineBytes
	truncated bool     // partial lost bytes to maxLineBytes
	pushed    uint64   // complete lines written so far; the newest has this number
}

func newTail(maxLines int) *tail { return &tail{max: maxLines} }

// Write splits p into lines. It never fails.
func (t *tail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			t.extend(p)
			break
		}
		t.extend(p[:i])
		t.push()
		p = p[i+1:]
	}
	return n, nil
}

func (t *tail) extend(b []byte) {
	if room := maxLineBytes - len(t.partial); len(b) > room {
		b, t.truncated = b[:room], true
	}
	t.partial = append(t.partial, b...)
}

func (t *tail) push() {
	line := string(bytes.TrimSuffix(t.partial, []byte("\r")))
	if t.truncated {
		line += " [line truncated]"
	}
	t.partial, t.truncated = t.partial[:0], false
	t.pushed++
	if len(t.lines) < t.max {
		t.lines = append(t.lines, line)
		return
	}
	t.lines[t.oldest] = line
	t.oldest = (t.oldest + 1) % t.max
}

// Last returns up to n of the last lines, oldest first, including a last
// line not yet ended by a newline.
func (t *tail) Last(n int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	all := make([]string, 0, len(t.lines)+1)
	all = append(all, t.lines[t.oldest:]...)
	all = append(all, t.lines[:t.oldest]...)
	if len(t.partial) > 0 {
		all = append(all, string(t.partial))
	}
	if n < 0 {
		n = 0
	}
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}

// Since returns the complete lines numbered after after that are still
// kept, oldest first, and the number of the newest line.
func (t *tail) Since(after uint64) ([]string, uint64) {
	t.mu.Lock()
	defer t.mu.Unlock()
	first := t.pushed - uint64(len(t.lines)) + 1 // number of the oldest kept line
	var out []string
	for i := range t.lines {
		if first+uint64(i) > after {
			out = append(out, t.lines[(t.oldest+i)%len(t.lines)])
		}
	}
	return out, t.pushed
}

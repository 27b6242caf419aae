package local

import (
	"fmt"
	"os"
)

const (
	// LogMaxBytes is the size at which a member's log file is rotated.
	LogMaxBytes = 10 << 20
	// LogBackups is how many rotated files are kept beside the current one:
	// <name>.log.1 (the newest) to <name>.log.<LogBackups>.
	LogBackups = 2
)

// rotatingFile is a log file that moves aside once it reaches max bytes:
// name → name.1 → name.2 …, keeping backups old files. Only the member's log
// copier writes to it, so it takes no lock.
type rotatingFile struct {
	f       *os.File
	name    string
	size    int64
	max     int64
	backups int
}

func newRotatingFile(f *os.File, max int64, backups int) *rotatingFile {
	r := &rotatingFile{f: f, name: f.Name(), max: max, backups: backups}
	if st, err := f.Stat(); err == nil {
		r.size = st.Size()
	}
	return r
}

// Write appends p, rotating first when p would take the file past max (a
// write is never split, so a file may end up slightly larger than max).
func (r *rotatingFile) Write(p []byte) (int, error) {
	if r.size > 0 && r.size+int64(len(p)) > r.max {
		if err := r.rotate(); err != nil {
			return 0, err
		}
	}
	n, err := r.f.Write(p)
	r.size += int64(n)
	return n, err
}

func (r *rotatingFile) rotate() error {
	if err := r.f.Close(); err != nil {
		return fmt.Errorf("rotate %s: %w", r.name, err)
	}
	for i := r.backups; i > 1; i-- {
		os.Rename(fmt.Sprintf("%s.%d", r.name, i-1), fmt.Sprintf("%s.%d", r.name, i))
	}
	if r.backups > 0 {
		os.Rename(r.name, r.name+".1")
	} else {
		os.Remove(r.name)
	}
	f, err := os.OpenFile(r.name, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("rotate %s: %w", r.name, err)
	}
	r.f, r.size = f, 0
	return nil
}

func (r *rotatingFile) Name() string { return r.name }

func (r *rotatingFile) Close() error { return r.f.Close() }

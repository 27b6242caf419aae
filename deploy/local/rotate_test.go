package local

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestRotatingFileKeepsBackupsAndDropsTheOldest(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.log")
	f, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	rf := newRotatingFile(f, 10, 2)
	for _, w := range []string{"aaaaaa\n", "bbbbbb\n", "cccccc\n", "dddddd\n"} {
		if n, err := rf.Write([]byte(w)); err != nil || n != len(w) {
			t.Fatalf("Write(%q) = %d, %v", w, n, err)
		}
	}
	if err := rf.Close(); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"r.log": "dddddd\n", "r.log.1": "cccccc\n", "r.log.2": "bbbbbb\n"} {
		b, err := os.ReadFile(filepath.Join(filepath.Dir(path), name))
		if err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	if _, err := os.Stat(path + ".3"); !os.IsNotExist(err) {
		t.Errorf("r.log.3 exists (err %v); only 2 backups should be kept", err)
	}
}

func TestRotatingFileCountsWhatWasThereBefore(t *testing.T) {
	path := filepath.Join(t.TempDir(), "r.log")
	os.WriteFile(path, []byte(strings.Repeat("x", 8)), 0o644)
	f, err := openLog(path)
	if err != nil {
		t.Fatal(err)
	}
	rf := newRotatingFile(f, 10, 1)
	rf.Write([]byte("yyyy\n"))
	rf.Close()
	if b, _ := os.ReadFile(path); string(b) != "yyyy\n" {
		t.Errorf("r.log = %q, want the new line only after rotating", b)
	}
	if b, _ := os.ReadFile(path + ".1"); string(b) != "xxxxxxxx" {
		t.Errorf("r.log.1 = %q, want the earlier content", b)
	}
}

func TestTailSince(t *testing.T) {
	tl := newTail(3)
	tl.Write([]byte("1\n2\n"))
	got, last := tl.Since(0)
	if !slices.Equal(got, []string{"1", "2"}) || last != 2 {
		t.Fatalf("Since(0) = %q, %d", got, last)
	}
	tl.Write([]byte("3\n4\n5\npartial"))
	got, last = tl.Since(2)
	if !slices.Equal(got, []string{"3", "4", "5"}) || last != 5 {
		t.Errorf("Since(2) = %q, %d; want 3 4 5 (the partial line is not complete yet)", got, last)
	}
	got, last = tl.Since(1) // line 2 fell out of the ring
	if !slices.Equal(got, []string{"3", "4", "5"}) || last != 5 {
		t.Errorf("Since(1) = %q, %d", got, last)
	}
	if got, _ := tl.Since(5); len(got) != 0 {
		t.Errorf("Since(5) = %q, want nothing", got)
	}
}

package local

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestTail(t *testing.T) {
	long := strings.Repeat("x", maxLineBytes+10)
	tests := []struct {
		name   string
		max    int
		writes []string
		n      int
		want   []string
	}{
		{"empty", 3, nil, 5, []string{}},
		{"lines", 3, []string{"a\nb\n"}, 5, []string{"a", "b"}},
		{"split across writes", 3, []string{"he", "llo\nwor", "ld\n"}, 5, []string{"hello", "world"}},
		{"unterminated last line", 3, []string{"a\nb"}, 5, []string{"a", "b"}},
		{"crlf", 3, []string{"a\r\nb\r\n"}, 5, []string{"a", "b"}},
		{"empty lines", 3, []string{"\n\n"}, 5, []string{"", ""}},
		{"ring wraps", 3, []string{"1\n2\n3\n4\n5\n"}, 5, []string{"3", "4", "5"}},
		{"last n", 3, []string{"1\n2\n3\n4\n5\n"}, 2, []string{"4", "5"}},
		{"zero", 3, []string{"1\n"}, 0, []string{}},
		{"negative", 3, []string{"1\n"}, -1, []string{}},
		{"long line", 3, []string{long + "\nnext\n"}, 5, []string{long[:maxLineBytes] + " [line truncated]", "next"}},
		{"long line across writes", 3, []string{long[:10], long[10:], "\n"}, 5, []string{long[:maxLineBytes] + " [line truncated]"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tl := newTail(tt.max)
			for _, w := range tt.writes {
				if n, err := tl.Write([]byte(w)); n != len(w) || err != nil {
					t.Fatalf("Write(%q) = %d, %v", w, n, err)
				}
			}
			if got := tl.Last(tt.n); !slices.Equal(got, tt.want) {
				t.Errorf("Last(%d) = %q, want %q", tt.n, got, tt.want)
			}
		})
	}
}

func TestTailConcurrent(t *testing.T) {
	tl := newTail(10)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 100 {
				fmt.Fprintf(tl, "writer %d line %d\n", w, i)
				tl.Last(5)
			}
		})
	}
	wg.Wait()
	got := tl.Last(100)
	if len(got) != 10 {
		t.Fatalf("Last(100) returned %d lines, want 10", len(got))
	}
	for _, l := range got {
		if !strings.HasPrefix(l, "writer ") {
			t.Errorf("mangled line %q", l)
		}
	}
}

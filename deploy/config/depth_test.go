package config

import (
	"errors"
	"runtime"
	"strings"
	"testing"
)

func TestJSONDepth(t *testing.T) {
	for _, tc := range []struct {
		json string
		want int
	}{
		{`1`, 0}, {`"[{"`, 0}, {`{}`, 1}, {`[[1],[[2]]]`, 3},
		{`{"a":{"b":"}}}\"{{{{"},"c":[]}`, 2},
		{`{"a\\":"[[["}`, 1},
	} {
		if got := jsonDepth([]byte(tc.json)); got != tc.want {
			t.Errorf("jsonDepth(%s) = %d, want %d", tc.json, got, tc.want)
		}
	}
}

// deepConfig is a config whose user_config nests n objects.
func deepConfig(n int) string {
	return `{"applications":[{"name":"a","deployments":[{"name":"d","replica":{"command":["x"]},"user_config":` +
		strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) + `}]}]}`
}

func TestUserConfigDepthLimit(t *testing.T) {
	mustParse(t, deepConfig(MaxUserConfigDepth))
	for _, n := range []int{MaxUserConfigDepth + 1, MaxDocumentDepth, 9990} {
		_, err := Parse([]byte(deepConfig(n)))
		var ce *Error
		if !errors.As(err, &ce) || len(ce.Problems) != 1 {
			t.Fatalf("depth %d: want one problem, got %v", n, err)
		}
		if p := ce.Problems[0]; !strings.HasPrefix(p.Path, "applications[0].deployments[0].user_config") ||
			!strings.Contains(p.Message, "64") {
			t.Errorf("depth %d: want a problem at user_config naming the limit 64, got %q", n, p)
		}
	}
}

// TestDeepDocumentBounded parses documents as deep as the YAML library
// allows (and one level more) and checks that parsing them stays cheap:
// the 60 KB document of finding 4 (user_config 9,990 deep) once became a
// 200 MB applied.json and 1 GB of memory.
func TestDeepDocumentBounded(t *testing.T) {
	for _, n := range []int{9990, 10_001} {
		doc := []byte(deepConfig(n))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Parse(doc)
		runtime.ReadMemStats(&after)
		if err == nil {
			t.Fatalf("depth %d: parsed", n)
		}
		const limit = 64 << 20
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > limit {
			t.Errorf("depth %d (%d bytes): parsing allocated %d MB, want at most %d MB", n, len(doc), alloc>>20, limit>>20)
		} else {
			t.Logf("depth %d (%d bytes): %d MB allocated: %v", n, len(doc), alloc>>20, err.Error()[:min(len(err.Error()), 80)])
		}
	}
}

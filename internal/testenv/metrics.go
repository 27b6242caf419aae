package testenv

import (
	"regexp"
	"strconv"
	"strings"
)

// Sample is one sample of a metric in Prometheus text exposition.
type Sample struct {
	Labels map[string]string
	Value  float64
}

var (
	sampleRE = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)`)
	labelRE  = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)
)

// Samples returns the samples of metric name in text (Prometheus text
// exposition, as /metrics serves it) whose labels include want.
func Samples(text, name string, want map[string]string) []Sample {
	var out []Sample
	for line := range strings.SplitSeq(text, "\n") {
		m := sampleRE.FindStringSubmatch(line)
		if m == nil || m[1] != name {
			continue
		}
		v, err := strconv.ParseFloat(m[3], 64)
		if err != nil {
			continue
		}
		s := Sample{Labels: map[string]string{}, Value: v}
		for _, l := range labelRE.FindAllStringSubmatch(m[2], -1) {
			s.Labels[l[1]] = l[2]
		}
		match := true
		for k, v := range want {
			match = match && s.Labels[k] == v
		}
		if match {
			out = append(out, s)
		}
	}
	return out
}

package testenv

import (
	"reflect"
	"testing"
)

func TestSamplesMatchNameAndLabels(t *testing.T) {
	text := `# HELP gantry_requests_total Requests.
# TYPE gantry_requests_total counter
gantry_requests_total{application="app",code="200"} 7
gantry_requests_total{application="app",code="503"} 2
gantry_requests_total{application="other",code="200"} 1
gantry_requests_total_created{application="app",code="200"} 1.7e+09
go_goroutines 12
`
	got := Samples(text, "gantry_requests_total", map[string]string{"application": "app"})
	want := []Sample{
		{Labels: map[string]string{"application": "app", "code": "200"}, Value: 7},
		{Labels: map[string]string{"application": "app", "code": "503"}, Value: 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Samples(application=app) = %v, want %v", got, want)
	}
	if got := Samples(text, "go_goroutines", nil); len(got) != 1 || got[0].Value != 12 || len(got[0].Labels) != 0 {
		t.Errorf("Samples(go_goroutines) = %v, want one unlabelled sample of 12", got)
	}
	if got := Samples(text, "gantry_requests_total", map[string]string{"code": "404"}); got != nil {
		t.Errorf("Samples(code=404) = %v, want none", got)
	}
}

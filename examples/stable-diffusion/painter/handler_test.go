package painter

import (
	"bytes"
	"context"
	"encoding/json"
	"image/png"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

type response struct {
	code   int
	header http.Header
	body   []byte
}

func call(t *testing.T, method, url, body string) response {
	t.Helper()
	r := testenv.Call(t, method, url, body)
	return response{r.Code, r.Header, []byte(r.Body)}
}

func TestHandlerPaints(t *testing.T) {
	t.Setenv("GANTRY_REPLICA_ID", "stable_diffusion#painter#abc123")
	ts := httptest.NewServer(Handler())
	defer ts.Close()

	post := call(t, "POST", ts.URL+"/imagine", `{"prompt": "a lighthouse at sunset", "seed": 7, "steps": 3, "width": 96, "height": 64}`)
	get := call(t, "GET", ts.URL+"/imagine?prompt=a+lighthouse+at+sunset&seed=7&steps=3&width=96&height=64", "")
	for name, r := range map[string]response{"POST": post, "GET": get} {
		if r.code != 200 {
			t.Fatalf("%s /imagine = %d %s", name, r.code, r.body)
		}
		if ct := r.header.Get("Content-Type"); ct != "image/png" {
			t.Errorf("%s Content-Type = %q", name, ct)
		}
		if r.header.Get("Content-Length") != strconv.Itoa(len(r.body)) {
			t.Errorf("%s Content-Length = %q, body %d bytes", name, r.header.Get("Content-Length"), len(r.body))
		}
		if got := r.header.Get(ReplicaHeader); got != "stable_diffusion#painter#abc123" {
			t.Errorf("%s %s = %q", name, ReplicaHeader, got)
		}
		if r.header.Get("X-Painter-Seed") != "7" || r.header.Get("X-Painter-Steps") != "3" {
			t.Errorf("%s seed/steps headers = %q/%q", name, r.header.Get("X-Painter-Seed"), r.header.Get("X-Painter-Steps"))
		}
		img, err := png.Decode(bytes.NewReader(r.body))
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", name, err)
		}
		if b := img.Bounds(); b.Dx() != 96 || b.Dy() != 64 {
			t.Errorf("%s painted %v, want 96x64", name, b)
		}
	}
	if !bytes.Equal(post.body, get.body) {
		t.Error("GET and POST with the same fields gave different images")
	}

	// img_size as the GPU example sends it; no seed: derived from the prompt.
	r := call(t, "GET", ts.URL+"/imagine?prompt="+url.QueryEscape("a cat in a garden")+"&img_size=64&steps=1", "")
	if r.code != 200 {
		t.Fatalf("GET with img_size = %d %s", r.code, r.body)
	}
	if img, err := png.Decode(bytes.NewReader(r.body)); err != nil || img.Bounds().Dx() != 64 || img.Bounds().Dy() != 64 {
		t.Errorf("img_size=64 painted %v (%v)", img.Bounds(), err)
	}
	if want := strconv.FormatInt(PromptSeed("a cat in a garden"), 10); r.header.Get("X-Painter-Seed") != want {
		t.Errorf("derived seed header = %q, want %s", r.header.Get("X-Painter-Seed"), want)
	}
}

func TestHandlerRejects(t *testing.T) {
	ts := httptest.NewServer(Handler())
	defer ts.Close()
	tests := []struct {
		name, method, target, body string
		code                       int
		field, want                string
	}{
		{"no prompt", "POST", "/imagine", `{}`, 400, "prompt", "required"},
		{"empty prompt", "POST", "/imagine", `{"prompt": " "}`, 400, "prompt", "required"},
		{"long prompt", "POST", "/imagine", `{"prompt": "` + strings.Repeat("a", 1001) + `"}`, 400, "prompt", "at most 1000"},
		{"prompt type", "POST", "/imagine", `{"prompt": 5}`, 400, "prompt", "must be a string"},
		{"zero steps", "POST", "/imagine", `{"prompt": "x", "steps": 0}`, 400, "steps", "from 1 to 150, got 0"},
		{"many steps", "POST", "/imagine", `{"prompt": "x", "steps": 1000}`, 400, "steps", "from 1 to 150"},
		{"odd width", "POST", "/imagine", `{"prompt": "x", "width": 100}`, 400, "width", "multiple of 8 from 64 to 1024"},
		{"huge height", "POST", "/imagine", `{"prompt": "x", "height": 4096}`, 400, "height", "from 64 to 1024"},
		{"float seed", "POST", "/imagine", `{"prompt": "x", "seed": 1.5}`, 400, "seed", "must be an integer"},
		{"unknown field", "POST", "/imagine", `{"prompt": "x", "negative_prompt": "y"}`, 400, "negative_prompt", "allowed: prompt, seed"},
		{"size conflict", "POST", "/imagine", `{"prompt": "x", "img_size": 64, "width": 64}`, 400, "img_size", "either"},
		{"bad img_size", "POST", "/imagine", `{"prompt": "x", "img_size": 10}`, 400, "img_size", "multiple of 8"},
		{"not an object", "POST", "/imagine", `["x"]`, 400, "body", "JSON object"},
		{"trailing data", "POST", "/imagine", `{"prompt": "x"} {"prompt": "y"}`, 400, "body", "nothing after it"},
		{"bad JSON", "POST", "/imagine", `{"prompt": `, 400, "body", "JSON"},
		{"empty body", "POST", "/imagine", ``, 400, "body", "empty"},
		{"big body", "POST", "/imagine", `{"prompt": "` + strings.Repeat("a", MaxBodyBytes) + `"}`, 400, "body", "at most 65536 bytes"},
		{"GET no prompt", "GET", "/imagine", ``, 400, "prompt", "required"},
		{"GET bad steps", "GET", "/imagine?prompt=x&steps=many", ``, 400, "steps", `must be an integer, got "many"`},
		{"GET bad seed", "GET", "/imagine?prompt=x&seed=99999999999999999999", ``, 400, "seed", "64-bit integer"},
		{"GET unknown", "GET", "/imagine?prompt=x&style=oil", ``, 400, "style", "not a known field"},
		{"GET twice", "GET", "/imagine?prompt=x&prompt=y", ``, 400, "prompt", "more than once"},
		{"PUT", "PUT", "/imagine", `{}`, 405, "", "use GET or POST"},
		{"DELETE root", "DELETE", "/", ``, 405, "", "use GET"},
		{"unknown path", "GET", "/generate", ``, 404, "", "/imagine"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.method, ts.URL+tc.target, tc.body)
			var e struct{ Error, Field string }
			if err := json.Unmarshal(r.body, &e); err != nil {
				t.Fatalf("body %q is not a JSON error: %v", r.body, err)
			}
			if r.code != tc.code || e.Field != tc.field || !strings.Contains(e.Error, tc.want) {
				t.Errorf("%s %s = %d %+v, want %d field %q containing %q", tc.method, tc.target, r.code, e, tc.code, tc.field, tc.want)
			}
			if tc.field != "" && !strings.HasPrefix(e.Error, tc.field+": ") {
				t.Errorf("error %q does not start with the field name", e.Error)
			}
			if ct := r.header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q", ct)
			}
		})
	}
	if r := call(t, "PUT", ts.URL+"/imagine", ""); r.header.Get("Allow") != "GET, POST" {
		t.Errorf("405 Allow = %q", r.header.Get("Allow"))
	}
}

func TestHandlerDescribes(t *testing.T) {
	ts := httptest.NewServer(Handler())
	defer ts.Close()
	r := call(t, "GET", ts.URL+"/", "")
	var doc struct {
		Name         string            `json:"name"`
		Endpoints    map[string]string `json:"endpoints"`
		DefaultSteps int               `json:"default_steps"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || r.code != 200 {
		t.Fatalf("GET / = %d %s (%v)", r.code, r.body, err)
	}
	if doc.Name != "painter" || doc.Endpoints["POST /imagine"] == "" || doc.DefaultSteps != DefaultSteps {
		t.Errorf("GET / = %+v", doc)
	}
}

func TestReconfigure(t *testing.T) {
	s := newServer("")
	for _, tc := range []struct {
		raw   string
		steps int64
		err   string
	}{
		{`{"default_steps": 5}`, 5, ""},
		{`{"default_steps": 0}`, 5, "from 1 to 150, got 0"},
		{`{"steps": 5}`, 5, `unknown field "steps"`},
		{`{}`, DefaultSteps, ""},
		{`{"default_steps": 150}`, 150, ""},
		{`null`, DefaultSteps, ""},
	} {
		err := s.reconfigure(json.RawMessage(tc.raw))
		if tc.err == "" && err != nil || tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("reconfigure(%s) = %v, want error %q", tc.raw, err, tc.err)
		}
		if got := s.defaultSteps.Load(); got != tc.steps {
			t.Errorf("after reconfigure(%s): default steps %d, want %d", tc.raw, got, tc.steps)
		}
	}
}

// TestMainReplica runs Main as Gantry would and talks to it over HTTP.
func TestMainReplica(t *testing.T) {
	addr := testenv.FreeAddr(t)
	t.Setenv("PORT", "")
	t.Setenv("GANTRY_REPLICA_ID", "r1")
	t.Setenv("GANTRY_USER_CONFIG", `{"default_steps": 2}`)

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Main(ctx, []string{"--addr", addr}) }()
	base := "http://" + addr
	testenv.WaitFor(t, 5*time.Second, "the replica to answer /-/healthz with 200", func() bool {
		code, _, err := testenv.TryGet(base + "/-/healthz")
		return err == nil && code == 200
	})
	r := call(t, "GET", base+"/imagine?prompt=hello&img_size=64", "")
	if r.code != 200 || r.header.Get("X-Painter-Steps") != "2" || r.header.Get(ReplicaHeader) != "r1" {
		t.Errorf("imagine = %d steps %q replica %q", r.code, r.header.Get("X-Painter-Steps"), r.header.Get(ReplicaHeader))
	}
	if r := call(t, "POST", base+"/-/reconfigure", `{"default_steps": 4}`); r.code != 200 {
		t.Errorf("reconfigure = %d %s", r.code, r.body)
	}
	if r := call(t, "POST", base+"/-/reconfigure", `{"default_steps": -4}`); r.code != 400 || !strings.Contains(string(r.body), "default_steps") {
		t.Errorf("bad reconfigure = %d %s", r.code, r.body)
	}
	if r := call(t, "GET", base+"/imagine?prompt=hello&img_size=64", ""); r.header.Get("X-Painter-Steps") != "4" {
		t.Errorf("after reconfigure, steps = %q, want 4", r.header.Get("X-Painter-Steps"))
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Main = %v", err)
	}
}

func TestMainErrors(t *testing.T) {
	t.Setenv("PORT", "")
	if err := Main(context.Background(), nil); err == nil || !strings.Contains(err.Error(), "--addr") {
		t.Errorf("Main without an address = %v", err)
	}
	if err := Main(context.Background(), []string{"--addr", "127.0.0.1:0", "extra"}); err == nil {
		t.Error("Main with extra arguments succeeded")
	}
	t.Setenv("GANTRY_USER_CONFIG", `{"default_steps": "many"}`)
	if err := Main(context.Background(), []string{"--addr", "127.0.0.1:0"}); err == nil || !strings.Contains(err.Error(), "GANTRY_USER_CONFIG") {
		t.Errorf("Main with a bad user_config = %v", err)
	}
}

package painter

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"image/png"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// MaxBodyBytes limits the body of POST /imagine.
const MaxBodyBytes = 64 << 10

// ReplicaHeader carries GANTRY_REPLICA_ID on every response, when it is set.
const ReplicaHeader = "X-Painter-Replica"

// fieldList names the request fields, for error messages.
const fieldList = "prompt, seed, steps, width, height, img_size"

func knownField(name string) bool {
	switch name {
	case "prompt", "seed", "steps", "width", "height", "img_size":
		return true
	}
	return false
}

// Handler returns the painter's HTTP API:
//
//	POST /imagine  {"prompt": "...", "seed"?: int, "steps"?: int, "width"?: int, "height"?: int}
//	GET  /imagine?prompt=...&seed=&steps=&width=&height=&img_size=
//	GET  /         a JSON description of the API
//
// /imagine answers 200 image/png, or 400 with {"error": ..., "field": ...}
// naming the field at fault and what it allows. img_size (as in the GPU
// Stable Diffusion example) sets both width and height. Every response
// carries X-Painter-Replica with $GANTRY_REPLICA_ID when it is set.
func Handler() http.Handler { return newServer(os.Getenv("GANTRY_REPLICA_ID")) }

// server is the painter's API plus its live configuration (user_config).
type server struct {
	replicaID    string
	defaultSteps atomic.Int64
	encoders     encoderPool
	log          *slog.Logger // a line per picture: what the dashboard's log tail shows
}

func newServer(replicaID string) *server {
	s := &server{replicaID: replicaID, log: slog.New(slog.DiscardHandler)}
	s.defaultSteps.Store(DefaultSteps)
	return s
}

// userConfig is the deployment's user_config the painter understands.
type userConfig struct {
	// DefaultSteps is used when a request does not say; default 30.
	DefaultSteps *int `json:"default_steps"`
}

// reconfigure applies a user_config; null resets to the defaults.
func (s *server) reconfigure(raw json.RawMessage) error {
	var cfg userConfig
	if trimmed := bytes.TrimSpace(raw); len(trimmed) > 0 && !bytes.Equal(trimmed, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(trimmed))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&cfg); err != nil {
			return fmt.Errorf("user_config: %v (allowed: {\"default_steps\": %d..%d})", err, MinSteps, MaxSteps)
		}
	}
	steps := DefaultSteps
	if cfg.DefaultSteps != nil {
		steps = *cfg.DefaultSteps
		if steps < MinSteps || steps > MaxSteps {
			return fmt.Errorf("user_config.default_steps: must be an integer from %d to %d, got %d",
				MinSteps, MaxSteps, steps)
		}
	}
	s.defaultSteps.Store(int64(steps))
	return nil
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.replicaID != "" {
		w.Header().Set(ReplicaHeader, s.replicaID)
	}
	switch r.URL.Path {
	case "/":
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeError(w, http.StatusMethodNotAllowed, "", "method "+r.Method+" not allowed on /; use GET")
			return
		}
		s.describe(w)
	case "/imagine":
		var (
			req imagineRequest
			err error
		)
		switch r.Method {
		case http.MethodGet:
			req, err = fromQuery(r.URL.RawQuery)
		case http.MethodPost:
			req, err = fromJSON(w, r)
		default:
			w.Header().Set("Allow", "GET, POST")
			writeError(w, http.StatusMethodNotAllowed, "", "method "+r.Method+" not allowed on /imagine; use GET or POST")
			return
		}
		if err != nil {
			writeParamError(w, err)
			return
		}
		s.imagine(w, r, req)
	default:
		if isInferPath(r.URL.Path) {
			s.infer(w, r)
			return
		}
		if isModelPath(r.URL.Path) {
			s.metadata(w, r)
			return
		}
		writeError(w, http.StatusNotFound, "", "no such path "+strconv.Quote(r.URL.Path)+"; the painter serves POST/GET /imagine, POST /v2/models/{model}/infer and GET /")
	}
}

// imagineRequest is one request's fields; nil means "not given".
type imagineRequest struct {
	Prompt  *string `json:"prompt"`
	Seed    *int64  `json:"seed"`
	Steps   *int    `json:"steps"`
	Width   *int    `json:"width"`
	Height  *int    `json:"height"`
	ImgSize *int    `json:"img_size"`
}

// params turns a request into Params, with the replica's default steps.
func (req imagineRequest) params(defaultSteps int) (Params, error) {
	p := Params{Steps: defaultSteps, Width: DefaultWidth, Height: DefaultHeight}
	if req.Prompt != nil {
		p.Prompt = *req.Prompt
	}
	if req.Seed != nil {
		p.Seed = *req.Seed
	}
	if req.Steps != nil {
		p.Steps = *req.Steps
	}
	if req.ImgSize != nil {
		if req.Width != nil || req.Height != nil {
			return p, &ParamError{"img_size", "sets both width and height; give either img_size or width/height"}
		}
		if err := checkSize("img_size", *req.ImgSize); err != nil {
			return p, err
		}
		p.Width, p.Height = *req.ImgSize, *req.ImgSize
	}
	if req.Width != nil {
		p.Width = *req.Width
	}
	if req.Height != nil {
		p.Height = *req.Height
	}
	return p, p.validate()
}

func fromQuery(raw string) (imagineRequest, error) {
	var req imagineRequest
	q, err := url.ParseQuery(raw)
	if err != nil {
		return req, &ParamError{"query", "is not a valid URL query: " + err.Error()}
	}
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	slices.Sort(keys) // report the same error for the same query every time
	for _, k := range keys {
		if !knownField(k) {
			return req, unknownField(k)
		}
		if len(q[k]) > 1 {
			return req, &ParamError{k, "is given more than once"}
		}
	}
	if v, ok := q["prompt"]; ok {
		req.Prompt = &v[0]
	}
	ints := []struct {
		name string
		dst  **int
	}{{"steps", &req.Steps}, {"width", &req.Width}, {"height", &req.Height}, {"img_size", &req.ImgSize}}
	for _, f := range ints {
		if v, ok := q[f.name]; ok {
			n, err := strconv.Atoi(strings.TrimSpace(v[0]))
			if err != nil {
				return req, &ParamError{f.name, fmt.Sprintf("must be an integer, got %q", v[0])}
			}
			*f.dst = &n
		}
	}
	if v, ok := q["seed"]; ok {
		n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64)
		if err != nil {
			return req, &ParamError{"seed", fmt.Sprintf("must be a 64-bit integer, got %q", v[0])}
		}
		req.Seed = &n
	}
	return req, nil
}

func fromJSON(w http.ResponseWriter, r *http.Request) (imagineRequest, error) {
	var req imagineRequest
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	dec.DisallowUnknownFields()
	err := dec.Decode(&req)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			return req, &ParamError{"body", "must hold one JSON object and nothing after it"}
		}
		return req, nil
	}
	var (
		tooBig  *http.MaxBytesError
		typeErr *json.UnmarshalTypeError
		syntax  *json.SyntaxError
	)
	switch {
	case errors.As(err, &tooBig):
		return req, &ParamError{"body", fmt.Sprintf("must be at most %d bytes", MaxBodyBytes)}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return req, &ParamError{"body", "is not valid JSON: it ends in the middle of a value"}
	case errors.Is(err, io.EOF):
		return req, &ParamError{"body", `is empty; send a JSON object like {"prompt": "a lighthouse at sunset"}`}
	case errors.As(err, &typeErr) && typeErr.Field != "":
		want := "an integer"
		if typeErr.Field == "prompt" {
			want = "a string"
		}
		return req, &ParamError{typeErr.Field, fmt.Sprintf("must be %s, got a JSON %s", want, typeErr.Value)}
	case errors.As(err, &typeErr):
		return req, &ParamError{"body", `must be a JSON object like {"prompt": "a lighthouse at sunset"}`}
	case errors.As(err, &syntax):
		return req, &ParamError{"body", fmt.Sprintf("is not valid JSON at byte %d: %v", syntax.Offset, err)}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return req, unknownField(name)
	}
	return req, &ParamError{"body", "could not be read: " + err.Error()}
}

func unknownField(name string) error {
	return &ParamError{name, "is not a known field; allowed: " + fieldList}
}

func (s *server) imagine(w http.ResponseWriter, r *http.Request, req imagineRequest) {
	p, err := req.params(int(s.defaultSteps.Load()))
	if err != nil {
		writeParamError(w, err)
		return
	}
	start := time.Now()
	buf, err := s.paintPNG(r.Context(), p)
	if err != nil {
		if r.Context().Err() != nil {
			return // the client has gone; nobody to answer
		}
		writeParamError(w, err)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/png")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	if p.Seed == 0 {
		p.Seed = PromptSeed(p.Prompt)
	}
	h.Set("X-Painter-Seed", strconv.FormatInt(p.Seed, 10))
	h.Set("X-Painter-Steps", strconv.Itoa(p.Steps))
	_, _ = w.Write(buf.Bytes())
	s.log.Info("painted", "prompt", p.Prompt, "size", strconv.Itoa(p.Width)+"x"+strconv.Itoa(p.Height),
		"steps", p.Steps, "took", time.Since(start).Round(time.Millisecond), "request_id", r.Header.Get("X-Request-Id"))
}

// paintPNG paints p and encodes it: the bytes both /imagine and the Open
// Inference Protocol answer.
func (s *server) paintPNG(ctx context.Context, p Params) (*bytes.Buffer, error) {
	img, err := PaintContext(ctx, p)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	buf.Grow(len(img.Pix) / 4)
	enc := png.Encoder{CompressionLevel: png.BestSpeed, BufferPool: &s.encoders}
	if err := enc.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("encoding the PNG: %w", err)
	}
	return &buf, nil
}

func (s *server) describe(w http.ResponseWriter) {
	type field struct {
		Name, Type, Allowed string
	}
	doc := struct {
		Name      string            `json:"name"`
		About     string            `json:"about"`
		Endpoints map[string]string `json:"endpoints"`
		Fields    []field           `json:"fields"`
		Steps     int64             `json:"default_steps"`
		Replica   string            `json:"replica,omitempty"`
	}{
		Name: "painter",
		About: "A small CPU text-to-image model: it composes a landscape from the prompt's words " +
			"and refines it from noise over a number of steps, like a diffusion sampler.",
		Endpoints: map[string]string{
			"POST /imagine":                 `JSON {"prompt": "...", "seed"?, "steps"?, "width"?, "height"?} -> image/png`,
			"GET /imagine":                  "?prompt=...&seed=&steps=&width=&height=&img_size= -> image/png",
			"POST /v2/models/{model}/infer": "Open Inference Protocol: inputs prompt (BYTES [1]), seed? and steps? (INT64 [1]) -> output image (BYTES [1], one PNG)",
			"GET /":                         "this description",
		},
		Fields: []field{
			{"prompt", "string", fmt.Sprintf("required, 1 to %d characters", MaxPromptRunes)},
			{"seed", "integer", "any 64-bit integer; absent or 0: derived from the prompt"},
			{"steps", "integer", fmt.Sprintf("%d to %d; more steps, less noise, more time", MinSteps, MaxSteps)},
			{"width", "integer", fmt.Sprintf("multiple of %d from %d to %d; default %d", SizeMultiple, MinSize, MaxSize, DefaultWidth)},
			{"height", "integer", fmt.Sprintf("multiple of %d from %d to %d; default %d", SizeMultiple, MinSize, MaxSize, DefaultHeight)},
			{"img_size", "integer", "sets width and height at once"},
		},
		Steps:   s.defaultSteps.Load(),
		Replica: s.replicaID,
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(doc)
}

func writeParamError(w http.ResponseWriter, err error) {
	var pe *ParamError
	if errors.As(err, &pe) {
		writeError(w, http.StatusBadRequest, pe.Field, pe.Error())
		return
	}
	writeError(w, http.StatusInternalServerError, "", err.Error())
}

func writeError(w http.ResponseWriter, code int, field, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(struct {
		Error string `json:"error"`
		Field string `json:"field,omitempty"`
	}{msg, field})
}

// encoderPool lets PNG encodes reuse their buffers (png.EncoderBufferPool).
type encoderPool struct{ p sync.Pool }

func (e *encoderPool) Get() *png.EncoderBuffer {
	b, _ := e.p.Get().(*png.EncoderBuffer)
	return b
}

func (e *encoderPool) Put(b *png.EncoderBuffer) { e.p.Put(b) }

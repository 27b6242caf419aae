package admin

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/replica"
)

// The endpoints behind the web dashboard, under /api/gantry/ (see
// docs/api.md): events, time series, replica logs, TPU groups, config
// validation and the try-it proxy.

// dashboard is the state the dashboard's endpoints share.
type dashboard struct {
	sampler *Sampler
	// streams ends when the admin listener shuts down, so server-sent event
	// streams do not hold its Shutdown up.
	streams    context.Context
	endStreams context.CancelFunc
	// poll is how often a log follower looks for new lines.
	poll time.Duration
}

func newDashboard(snapshot func() *deploy.Snapshot, traffic func(app, dep string) deploy.Traffic) *dashboard {
	ctx, cancel := context.WithCancel(context.Background())
	return &dashboard{sampler: &Sampler{Snapshot: snapshot, Traffic: traffic}, streams: ctx, endStreams: cancel, poll: 250 * time.Millisecond}
}

// maxLogLines bounds ?lines= of the log endpoint.
const maxLogLines = 1000

func (s *Server) dashboardRoutes(r chi.Router) {
	r.Get("/api/gantry/events", s.reads.heavy(s.getEvents))
	r.Get("/api/gantry/timeseries", s.reads.heavy(s.getTimeseries))
	r.Get("/api/gantry/logs", s.reads.heavy(s.getLogs))
	r.Get("/api/gantry/tpu", s.getTPU)
	r.Post("/api/gantry/validate", s.postValidate)
	r.HandleFunc("/api/gantry/try/*", s.tryIt)
	r.Handle("/*", dashboardUI())
}

// sseStart sets up a server-sent event stream; nil if w cannot flush.
func sseStart(w http.ResponseWriter) http.Flusher {
	f, ok := w.(http.Flusher)
	if !ok {
		textError(w, http.StatusInternalServerError, "streaming is not supported on this connection")
		return nil
	}
	// The admin listener's ReadTimeout would end a long stream: a stream
	// reads nothing more, so lift it for this connection.
	http.NewResponseController(w).SetReadDeadline(time.Time{})
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	f.Flush()
	return f
}

// getEvents answers the recent events as a JSON array, oldest first, or with
// ?follow=1 streams them as server-sent events (each "data:" one event as
// JSON, "id:" its seq) until the client goes away. ?after=SEQ (or the
// Last-Event-ID header of a reconnecting EventSource) skips older events.
func (s *Server) getEvents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, err := uintParam(q.Get("after"), r.Header.Get("Last-Event-ID"))
	if err != nil {
		textError(w, http.StatusBadRequest, "after: "+err.Error())
		return
	}
	log := s.controller.Events()
	if !follow(q) {
		evs, _ := log.Since(after)
		writeJSON(w, http.StatusOK, evs)
		return
	}
	f := sseStart(w)
	if f == nil {
		return
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		evs, changed := log.Since(after)
		for _, e := range evs {
			b, _ := json.Marshal(e)
			fmt.Fprintf(w, "id: %d\ndata: %s\n\n", e.Seq, b)
			after = e.Seq
		}
		f.Flush()
		select {
		case <-changed:
		case <-keepalive.C:
			io.WriteString(w, ": keep-alive\n\n")
		case <-r.Context().Done():
			return
		case <-s.dash.streams.Done():
			return
		}
	}
}

// getTimeseries answers a page of the sampled series (see Sampler.Page and
// ParseTimeseriesQuery for the parameters).
func (s *Server) getTimeseries(w http.ResponseWriter, r *http.Request) {
	q, err := ParseTimeseriesQuery(r.URL.Query())
	if err != nil {
		textError(w, http.StatusBadRequest, err.Error())
		return
	}
	body := s.dash.sampler.Page(q)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.Write(body)
}

// getLogs answers the last ?lines= (default 100) lines replica ?replica=
// wrote as JSON {"replica", "lines": [...]}, or with ?follow=1 streams
// them, then every new line, as server-sent events (data: one line), until
// the replica is gone ("event: end").
func (s *Server) getLogs(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	id := q.Get("replica")
	if id == "" {
		textError(w, http.StatusBadRequest, "replica: required, the replica id (e.g. app#deployment#1a2b3c4d)")
		return
	}
	n := 100
	if v := q.Get("lines"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 0 || n > maxLogLines {
			textError(w, http.StatusBadRequest, fmt.Sprintf("lines: want 0 to %d, got %q", maxLogLines, v))
			return
		}
	}
	rs, ok := s.controller.Snapshot().Replica(id)
	rl, _ := s.controller.ReplicaLog(id)
	if !ok {
		textError(w, http.StatusNotFound, "replica "+strconv.Quote(id)+" not found; GET /api/gantry/applications lists the replicas")
		return
	}
	if !follow(q) {
		lines := rl.Tail(n)
		if lines == nil {
			lines = []string{}
		}
		writeJSON(w, http.StatusOK, map[string]any{"replica": id, "log_file_path": rs.LogPath, "lines": lines})
		return
	}
	lf, canFollow := rl.Follower()
	f := sseStart(w)
	if f == nil {
		return
	}
	send := func(lines []string) {
		for _, l := range lines {
			b, _ := json.Marshal(l)
			fmt.Fprintf(w, "data: %s\n\n", b)
		}
		f.Flush()
	}
	if !canFollow {
		send(rl.Tail(n))
		io.WriteString(w, "event: end\ndata: \"this backend cannot follow logs\"\n\n")
		return
	}
	lines, last := lf.LogSince(0)
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	send(lines)
	t := time.NewTicker(s.dash.poll)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-r.Context().Done():
			return
		case <-s.dash.streams.Done():
			return
		}
		if lines, last = lf.LogSince(last); len(lines) > 0 {
			send(lines)
		}
		if _, ok := s.controller.Snapshot().Replica(id); !ok {
			// Gone: its process has exited and its output is drained.
			lines, _ = lf.LogSince(last)
			send(lines)
			io.WriteString(w, "event: end\ndata: \"the replica has stopped\"\n\n")
			return
		}
	}
}

// TPUView is GET /api/gantry/tpu: the worker groups and who holds their slices.
type TPUView struct {
	WorkerGroups []TPUGroup `json:"worker_groups"`
	// Pending are the replicas waiting for a free slice.
	Pending []TPUPending `json:"pending"`
}

// TPUGroup is one worker group.
type TPUGroup struct {
	Name         string     `json:"name"`
	Accelerator  string     `json:"accelerator"`
	Topology     string     `json:"topology"`
	Chips        int        `json:"chips_per_slice"`
	Hosts        int        `json:"hosts_per_slice"`
	ChipsPerHost int        `json:"chips_per_host"`
	Slices       []TPUSlice `json:"slices"`
}

// TPUSlice is one slice and the replica holding it, if any.
type TPUSlice struct {
	Index int `json:"index"`
	// Name is TPU_NAME: <group>-<index>.
	Name        string `json:"name"`
	Replica     string `json:"replica,omitempty"`
	Application string `json:"application,omitempty"`
	Deployment  string `json:"deployment,omitempty"`
	State       string `json:"state,omitempty"`
	// Hosts are the slice's host names (TPU_WORKER_HOSTNAMES).
	Hosts []string `json:"hosts"`
}

// TPUPending is a replica waiting for a slice, and why.
type TPUPending struct {
	Replica     string `json:"replica"`
	Application string `json:"application"`
	Deployment  string `json:"deployment"`
	Reason      string `json:"reason"`
}

func (s *Server) getTPU(w http.ResponseWriter, _ *http.Request) {
	snap := s.controller.Snapshot()
	v := TPUView{WorkerGroups: []TPUGroup{}, Pending: []TPUPending{}}
	if snap.Config == nil {
		writeJSON(w, http.StatusOK, v)
		return
	}
	for i := range snap.Config.WorkerGroups {
		g := &snap.Config.WorkerGroups[i]
		tg := TPUGroup{Name: g.Name, Accelerator: g.Accelerator, Topology: g.Topology, Chips: g.Chips(),
			Hosts: g.Hosts(), ChipsPerHost: g.ChipsPerHost, Slices: []TPUSlice{}}
		for j := range g.SliceCount() {
			sl := TPUSlice{Index: j, Name: fmt.Sprintf("%s-%d", g.Name, j), Hosts: []string{}}
			for h := range g.Hosts() {
				sl.Hosts = append(sl.Hosts, fmt.Sprintf("%s-%d-%d", g.Name, j, h))
			}
			tg.Slices = append(tg.Slices, sl)
		}
		v.WorkerGroups = append(v.WorkerGroups, tg)
	}
	for _, a := range snap.Applications {
		for _, d := range a.Deployments {
			for _, r := range d.Replicas {
				if r.State == replica.Pending {
					v.Pending = append(v.Pending, TPUPending{Replica: r.ID, Application: d.Application,
						Deployment: d.Deployment, Reason: d.Message})
				}
				for gi := range v.WorkerGroups {
					if tg := &v.WorkerGroups[gi]; r.Group == tg.Name && r.Slice >= 0 && r.Slice < len(tg.Slices) {
						sl := &tg.Slices[r.Slice]
						sl.Replica, sl.Application, sl.Deployment, sl.State = r.ID, d.Application, d.Deployment, string(r.State)
					}
				}
			}
		}
	}
	writeJSON(w, http.StatusOK, v)
}

// ValidateResult is the answer of POST /api/gantry/validate.
type ValidateResult struct {
	Valid    bool              `json:"valid"`
	Problems []ValidateProblem `json:"problems"`
}

// ValidateProblem is one problem with a config.
type ValidateProblem struct {
	// Path locates the value, e.g. applications[0].deployments[0].num_replicas;
	// empty for the document as a whole.
	Path    string `json:"path"`
	Message string `json:"message"`
}

// postValidate checks the config in the body as PUT /api/serve/applications/
// would, and applies nothing. The answer is 200 either way: {"valid": true}
// or {"valid": false, "problems": [every problem with its path]}.
func (s *Server) postValidate(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxConfigBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			textError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the config is larger than %d bytes", tooBig.Limit))
			return
		}
		textError(w, http.StatusBadRequest, "reading the config: "+err.Error())
		return
	}
	res := ValidateResult{Valid: true, Problems: []ValidateProblem{}}
	if _, err := config.Parse(body); err != nil {
		res.Valid = false
		var ce *config.Error
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				res.Problems = append(res.Problems, ValidateProblem{Path: p.Path, Message: p.Message})
			}
		} else {
			res.Problems = append(res.Problems, ValidateProblem{Message: err.Error()})
		}
	}
	writeJSON(w, http.StatusOK, res)
}

// tryIt hands a request to the HTTP ingress in-process: /api/gantry/try/PATH
// is served as the data plane would serve /PATH, so the dashboard (on the
// dashboard port, perhaps behind a port-forward that does not reach the
// ingress port) can call an application without CORS.
func (s *Server) tryIt(w http.ResponseWriter, r *http.Request) {
	const prefix = "/api/gantry/try"
	r2 := r.Clone(r.Context())
	r2.URL = &url.URL{Path: strings.TrimPrefix(r.URL.Path, prefix), RawPath: strings.TrimPrefix(r.URL.RawPath, prefix), RawQuery: r.URL.RawQuery}
	r2.RequestURI = r2.URL.RequestURI()
	r2.Header.Del("Authorization") // the admin token is not the application's business
	s.ingress.Handler().ServeHTTP(w, r2)
}

func follow(q url.Values) bool {
	v := q.Get("follow")
	return v == "1" || v == "true"
}

// uintParam parses the first non-empty value as a sequence number.
func uintParam(vals ...string) (uint64, error) {
	for _, v := range vals {
		if v != "" {
			n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("want an event seq number, got %q", v)
			}
			return n, nil
		}
	}
	return 0, nil
}

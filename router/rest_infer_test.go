package router

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"gantry.dev/gantry/oip"
)

// A REST inference to an HTTP replica is forwarded as it is, with no
// translation either way: the replica sees the client's bytes at the
// client's path, and the client gets the replica's bytes.
func TestInferRESTPassesThroughToHTTPReplicas(t *testing.T) {
	const in = `{"inputs": [{"name": "x", "datatype": "INT32", "shape": [1], "data": [7]}], "note": "kept"}`
	const answer = `{"model_name":"m","outputs":[],"replica_field":"kept too"}`
	var gotPath, gotBody, gotHeaderLen string
	rep, _ := upstream(t, func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		gotPath, gotBody, gotHeaderLen = r.URL.Path, string(b), r.Header.Get(oip.HeaderContentLength)
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, answer)
	})
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 5, MaxQueuedRequests: -1}, nil)
	d.SetReplicas([]*Replica{rep})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.InferREST(w, r, RESTInference{Model: "app", RequestID: "id"})
	}))
	t.Cleanup(srv.Close)

	resp, err := http.Post(srv.URL+"/v2/models/app/infer", "application/json", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(out) != answer {
		t.Errorf("client got %d %q, want 200 %q", resp.StatusCode, out, answer)
	}
	if gotPath != "/v2/models/app/infer" || gotBody != in || gotHeaderLen != "" {
		t.Errorf("replica got %s %q (%s=%q), want the client's request unchanged", gotPath, gotBody, oip.HeaderContentLength, gotHeaderLen)
	}
}

// The gateway's own failures on the REST path are the protocol's error
// bodies.
func TestInferRESTFailuresAreOIPErrors(t *testing.T) {
	d := NewDeployment("app", "d", Settings{MaxOngoingRequests: 1, MaxQueuedRequests: 0}, nil)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d.InferREST(w, r, RESTInference{Model: "app", RequestID: "id"})
	}))
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/v2/models/app/infer", "application/json", strings.NewReader(`{"inputs":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	out, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.HasPrefix(string(out), `{"error":"deployment app/d is at capacity`) {
		t.Errorf("got %d %q, want 503 with an OIP error body", resp.StatusCode, out)
	}
}

package serve_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/servetest"
)

// A replica calls another deployment of its application through the
// gateway's handle endpoint, with the address and token it finds in its
// environment; the call reaches the other deployment's /-/gantry/call
// through the router, which counts it in that deployment's metrics.
func TestHandleCallsGoThroughTheRouter(t *testing.T) {
	srv, url := servetest.GatewayWith(t, `
applications:
- name: app
  route_prefix: /
  ingress: front
  deployments:
  - name: front
    replica: {command: [TESTREPLICA]}
  - name: back
    num_replicas: 2
    replica: {command: [TESTREPLICA]}
`)
	servetest.Running(t, srv, 3)
	req, _ := http.NewRequest("POST", url+"/call?app=app&dep=back", strings.NewReader("pickled-args"))
	req.Header.Set("Gantry-Method", "predict")
	r := testenv.Do(t, req)
	if r.Code != 200 {
		t.Fatalf("handle call answered %d %q", r.Code, r.Body)
	}
	var echo struct {
		Path    string
		Body    string
		Replica string
		Headers http.Header
	}
	if err := json.Unmarshal([]byte(r.Body), &echo); err != nil {
		t.Fatalf("%v: %q", err, r.Body)
	}
	if echo.Path != "/-/gantry/call" || echo.Body != "pickled-args" || !strings.HasPrefix(echo.Replica, "app#back#") ||
		echo.Headers.Get("Gantry-Method") != "predict" || echo.Headers.Get("Authorization") != "" {
		t.Errorf("the back replica saw %+v", echo)
	}
	_, metrics := testenv.Get(t, "http://"+srv.DashboardAddr()+"/metrics")
	want := `gantry_requests_total{application="app",code="200",deployment="back"} 1`
	if !strings.Contains(metrics, want) {
		t.Errorf("metrics lack %s", want)
	}
}

func TestHandleEndpointRefusesWhatIsNotACall(t *testing.T) {
	srv, _ := servetest.GatewayWith(t, `
applications:
- name: app
  route_prefix: /
  deployments:
  - name: d
    replica: {command: [TESTREPLICA]}
`)
	servetest.Running(t, srv, 1)
	env := srv.Handles.Env()
	addr, token := env["GANTRY_HANDLE_ADDRESS"], env["GANTRY_HANDLE_TOKEN"]
	if !strings.HasPrefix(addr, "http://127.0.0.1:") || len(token) < 32 {
		t.Fatalf("handle endpoint %q, token %q: want a loopback address and a long random token", addr, token)
	}
	for _, tt := range []struct {
		name, method, path, token string
		code                      int
	}{
		{"no token", "POST", "/app/d", "", 401},
		{"wrong token", "POST", "/app/d", "x" + token[1:], 401},
		{"unknown deployment", "POST", "/app/nope", token, 404},
		{"unknown application", "POST", "/nope/d", token, 404},
		{"no deployment", "POST", "/app", token, 404},
		{"not a POST", "GET", "/app/d", token, 405},
		{"a call", "POST", "/app/d", token, 200},
	} {
		t.Run(tt.name, func(t *testing.T) {
			code, _, body := servetest.Call(t, tt.method, addr+tt.path, tt.token, "x")
			if code != tt.code {
				t.Errorf("%s %s answered %d %q, want %d", tt.method, tt.path, code, body, tt.code)
			}
		})
	}
}

// Three replicas multiplexing up to two models each, six model ids: once
// a model is loaded, requests for it go where it is, and
// /api/gantry/applications reports each replica's loaded ids.
func TestMultiplexedModelsAreRoutedAndReported(t *testing.T) {
	srv, url := servetest.GatewayWith(t, `
applications:
- name: models
  route_prefix: /
  deployments:
  - name: m
    num_replicas: 3
    replica: {command: [TESTREPLICA], env: {TESTREPLICA_MAX_MODELS: "2"}}
`)
	servetest.Running(t, srv, 3)
	request := func(model string) {
		req, _ := http.NewRequest("GET", url+"/id", nil)
		req.Header.Set("serve_multiplexed_model_id", model)
		if r := testenv.Do(t, req); r.Code != 200 {
			t.Fatalf("%s: %d %q", model, r.Code, r.Body)
		}
	}
	request("m1")
	for range 10 {
		request("m1")
	}
	var view struct {
		Applications map[string]struct {
			Deployments map[string]struct {
				Replicas []struct {
					ReplicaID           string   `json:"replica_id"`
					MultiplexedModelIDs []string `json:"multiplexed_model_ids"`
				} `json:"replicas"`
			} `json:"deployments"`
		} `json:"applications"`
	}
	_, body := testenv.Get(t, "http://"+srv.DashboardAddr()+"/api/gantry/applications")
	if err := json.Unmarshal([]byte(body), &view); err != nil {
		t.Fatal(err)
	}
	holders := 0
	for _, r := range view.Applications["models"].Deployments["m"].Replicas {
		if len(r.MultiplexedModelIDs) > 0 {
			holders++
			if strings.Join(r.MultiplexedModelIDs, ",") != "m1" {
				t.Errorf("%s reports %v loaded, want [m1]", r.ReplicaID, r.MultiplexedModelIDs)
			}
		}
	}
	if holders != 1 {
		t.Errorf("%d replicas report m1 loaded after 11 requests for it, want 1:\n%s", holders, body)
	}
	if strings.Contains(servetest.GetBody(t, "http://"+srv.DashboardAddr()+"/api/serve/applications/"), "multiplexed_model_ids") {
		t.Error("Ray's view gained multiplexed_model_ids; Ray's CLI rejects unknown fields")
	}
}

// A local driver script (serve.run) asks the admin API for the handle
// endpoint; with an admin token set, only with that token.
func TestAdminAPIGivesTheHandleEndpoint(t *testing.T) {
	srv := servetest.Start(t, serve.Options{AdminToken: "admin-secret"})
	url := "http://" + srv.DashboardAddr() + "/api/gantry/handle"
	if code, _, body := servetest.Call(t, "GET", url, "", ""); code != 401 {
		t.Errorf("without the admin token: %d %q, want 401", code, body)
	}
	code, _, body := servetest.Call(t, "GET", url, "admin-secret", "")
	var got struct{ Address, Token string }
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("%d %q: %v", code, body, err)
	}
	env := srv.Handles.Env()
	if got.Address != env["GANTRY_HANDLE_ADDRESS"] || got.Token != env["GANTRY_HANDLE_TOKEN"] {
		t.Errorf("got %+v, want the endpoint's %v", got, env)
	}
}

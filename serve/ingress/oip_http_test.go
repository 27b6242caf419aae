package ingress_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"gantry.dev/gantry/internal/testenv"
	"gantry.dev/gantry/oip"
	pb "gantry.dev/gantry/oip/inferencepb"
	"gantry.dev/gantry/serve/servetest"
)

// Tests of the Open Inference Protocol over HTTP (/v2 on the HTTP port),
// with Go's HTTP client against a real gateway and real replicas.

func postInfer(t *testing.T, url, body string) (string, int, http.Header) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b), resp.StatusCode, resp.Header
}

func TestOIPOverHTTP(t *testing.T) {
	srv, base := servetest.GatewayWith(t, `
applications:
- name: echo
  route_prefix: /
  deployments:
  - name: echo
    replica: {command: [TESTGRPCREPLICA], protocol: grpc}
`)
	servetest.Running(t, srv, 1)
	for path, want := range map[string]int{
		"/v2":                              200,
		"/v2/health/live":                  200,
		"/v2/health/ready":                 200,
		"/v2/models/echo/ready":            200,
		"/v2/models/echo":                  200,
		"/v2/models/echo/versions/1":       200,
		"/v2/models/echo/versions/1/ready": 200,
		"/v2/models/nope/ready":            404,
		"/v2/models/nope":                  404,
		"/v2/other":                        404,
	} {
		// /v2 wins over the application at /.
		if code, body := testenv.Get(t, base+path); code != want {
			t.Errorf("GET %s: %d %q, want %d", path, code, body, want)
		}
	}

	// JSON tensors in, JSON out.
	body, code, _ := postInfer(t, base+"/v2/models/echo/infer",
		`{"id":"a","inputs":[{"name":"x","datatype":"INT32","shape":[2,2],"data":[[1,2],[3,4]]},`+
			`{"name":"s","datatype":"BYTES","shape":[1],"data":["hi"]}]}`)
	var got struct {
		ID      string `json:"id"`
		Outputs []struct {
			Name  string `json:"name"`
			Shape []int  `json:"shape"`
			Data  []any  `json:"data"`
		} `json:"outputs"`
	}
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("infer: %d %q %v", code, body, err)
	}
	if got.ID != "a" || len(got.Outputs) != 2 || len(got.Outputs[0].Data) != 4 || got.Outputs[0].Data[3] != 4.0 || got.Outputs[1].Data[0] != "hi" {
		t.Fatalf("infer answered %s", body)
	}

	// Bad input names the problem; unknown model is 404.
	body, code, _ = postInfer(t, base+"/v2/models/echo/infer", `{"inputs":[{"name":"x","datatype":"INT9","shape":[1],"data":[1]}]}`)
	if code != 400 || !strings.Contains(body, `datatype \"INT9\"`) {
		t.Fatalf("bad datatype: %d %q", code, body)
	}
	body, code, _ = postInfer(t, base+"/v2/models/nope/infer", `{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"data":[1]}]}`)
	if code != 404 || !strings.Contains(body, `model \"nope\" does not exist`) {
		t.Fatalf("unknown model: %d %q", code, body)
	}

	// Binary tensors in and out (Triton's extension).
	in := &oip.Request{Inputs: []oip.Tensor{{Name: "raw", Datatype: "UINT8", Shape: []int64{3}, Raw: []byte{9, 8, 7}}},
		Outputs: []oip.RequestedOutput{{Name: "raw"}}}
	reqBody, hl, err := oip.EncodeRESTRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	out := restInfer(t, base+"/v2/models/echo/infer", reqBody, hl)
	if len(out.Outputs) != 1 || !bytes.Equal(out.Outputs[0].Raw, []byte{9, 8, 7}) {
		t.Fatalf("binary infer answered %+v", out)
	}
}

// restInfer posts a binary-extension body and decodes the answer.
func restInfer(t *testing.T, url string, body []byte, headerLen int) *oip.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set(oip.HeaderContentLength, strconv.Itoa(headerLen))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST %s: %d %q", url, resp.StatusCode, b)
	}
	hl := -1
	if v := resp.Header.Get(oip.HeaderContentLength); v != "" {
		hl, _ = strconv.Atoi(v)
	}
	out, err := oip.DecodeRESTResponse(b, hl)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// The painter (an HTTP replica) answers OIP over gRPC and REST v2 with the
// very PNG that POST /imagine paints for the same prompt, seed and steps.
func TestPainterOIPMatchesImagine(t *testing.T) {
	srv, base := servetest.GatewayWith(t, `
applications:
- name: stable_diffusion
  route_prefix: /
  deployments:
  - name: painter
    replica: {command: [GANTRY, example, painter]}
`)
	servetest.Running(t, srv, 1)
	resp, err := http.Post(base+"/imagine", "application/json", strings.NewReader(`{"prompt": "a lighthouse at dusk", "seed": 7, "steps": 3}`))
	if err != nil {
		t.Fatal(err)
	}
	want, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !bytes.HasPrefix(want, []byte("\x89PNG")) {
		t.Fatalf("/imagine: %d %q", resp.StatusCode, want[:min(len(want), 200)])
	}

	int64s := func(v int64) []byte {
		b := make([]byte, 8)
		for i := range b {
			b[i] = byte(v >> (8 * i))
		}
		return b
	}
	in := &oip.Request{Inputs: []oip.Tensor{
		oip.BytesTensor("prompt", []byte("a lighthouse at dusk")),
		{Name: "seed", Datatype: "INT64", Shape: []int64{1}, Raw: int64s(7)},
		{Name: "steps", Datatype: "INT64", Shape: []int64{1}, Raw: int64s(3)},
	}}
	image := func(t *testing.T, outputs []oip.Tensor) []byte {
		t.Helper()
		if len(outputs) != 1 || outputs[0].Name != "image" || outputs[0].Datatype != "BYTES" {
			t.Fatalf("outputs %+v, want one BYTES image", outputs)
		}
		els, err := oip.SplitBytes(outputs[0].Raw)
		if err != nil || len(els) != 1 {
			t.Fatalf("image tensor: %v, %d elements", err, len(els))
		}
		return els[0]
	}

	t.Run("metadata", func(t *testing.T) {
		md, err := pb.NewGRPCInferenceServiceClient(dialGateway(t, srv)).ModelMetadata(callCtx(t), &pb.ModelMetadataRequest{Name: "stable_diffusion"})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, in := range md.GetInputs() {
			names = append(names, in.GetName()+":"+in.GetDatatype())
		}
		if md.GetName() != "stable_diffusion" || strings.Join(names, ",") != "prompt:BYTES,seed:INT64,steps:INT64" ||
			len(md.GetOutputs()) != 1 || md.GetOutputs()[0].GetName() != "image" {
			t.Fatalf("ModelMetadata = %v", md)
		}
		if code, body := testenv.Get(t, base+"/v2/models/stable_diffusion"); code != 200 || !strings.Contains(body, `"name":"prompt"`) {
			t.Fatalf("GET /v2/models/stable_diffusion: %d %s", code, body)
		}
	})
	t.Run("grpc", func(t *testing.T) {
		out, err := pb.NewGRPCInferenceServiceClient(dialGateway(t, srv)).ModelInfer(callCtx(t), in.Proto("stable_diffusion", ""))
		if err != nil {
			t.Fatal(err)
		}
		r, err := oip.FromProtoResponse(out)
		if err != nil {
			t.Fatal(err)
		}
		if got := image(t, r.Outputs); !bytes.Equal(got, want) {
			t.Fatalf("gRPC ModelInfer PNG (%d bytes) differs from /imagine's (%d bytes)", len(got), len(want))
		}
	})
	t.Run("rest-binary", func(t *testing.T) {
		body, hl, err := oip.EncodeRESTRequest(in)
		if err != nil {
			t.Fatal(err)
		}
		out := restInfer(t, base+"/v2/models/stable_diffusion/infer", body, hl)
		if got := image(t, out.Outputs); !bytes.Equal(got, want) {
			t.Fatalf("REST v2 PNG (%d bytes) differs from /imagine's (%d bytes)", len(got), len(want))
		}
	})
	t.Run("rest-json-inputs", func(t *testing.T) {
		body := `{"inputs":[{"name":"prompt","datatype":"BYTES","shape":[1],"data":["a lighthouse at dusk"]},` +
			`{"name":"seed","datatype":"INT64","shape":[1],"data":[7]},{"name":"steps","datatype":"INT64","shape":[1],"data":[3]}],` +
			`"outputs":[{"name":"image","parameters":{"binary_data":true}}]}`
		out := restInfer(t, base+"/v2/models/stable_diffusion/infer", []byte(body), len(body))
		if got := image(t, out.Outputs); !bytes.Equal(got, want) {
			t.Fatalf("REST v2 (JSON inputs) PNG (%d bytes) differs from /imagine's (%d bytes)", len(got), len(want))
		}
	})
}

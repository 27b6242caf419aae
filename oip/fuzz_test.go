package oip

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"testing"
)

// FuzzDecodeHTTPRequest feeds the REST v2 request decoder (JSON bodies and
// the binary extension's framing by Inference-Header-Content-Length)
// arbitrary bodies and header values, seeded with the bodies the tests use.
// It must never panic; what it accepts must hold tensors that fit their
// datatype and shape, and must come back the same through the binary
// extension and through gRPC. The same body read as a replica's answer must
// not panic either.
func FuzzDecodeHTTPRequest(f *testing.F) {
	for _, s := range []struct {
		headerLen string
		body      string
	}{
		{"", `{"inputs":[{"name":"x","datatype":"INT32","shape":[2,2],"data":[[1,2],[3,-4]]}]}`},
		{"", `{"id":"q","parameters":{"binary_data_output":true,"k":3},"inputs":[{"name":"s","datatype":"BYTES","shape":[2],"data":["a","héllo"]}],"outputs":[{"name":"y","parameters":{"binary_data":true}}]}`},
		{"", `{"inputs":[{"name":"b","datatype":"BOOL","shape":[2],"data":[true,false]},{"name":"f","datatype":"FP64","shape":[1],"data":[3.5]}]}`},
		{"", `{"inputs":[{"name":"x","datatype":"UINT8","shape":[1],"data":[300]}]}`},
		{"", `{"inputs":[]}`},
		{"10", `{}`},
		{"-1", `{}`},
		{"x", `{}`},
	} {
		f.Add(s.headerLen, []byte(s.body))
	}
	bin := &Request{ID: "q", Parameters: map[string]any{"s": "v"}, Inputs: []Tensor{
		{Name: "f", Datatype: "FP32", Shape: []int64{2}, Raw: []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0}},
		BytesTensor("b", []byte("one"), []byte("")),
		{Name: "h", Datatype: "FP16", Shape: []int64{1}, Raw: []byte{0, 0x3c}},
	}, Outputs: []RequestedOutput{{Name: "y", Binary: true}}}
	body, hl, err := EncodeRESTRequest(bin)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(strconv.Itoa(hl), body)

	f.Fuzz(func(t *testing.T, headerLen string, body []byte) {
		h := http.Header{}
		if headerLen != "" {
			h.Set(HeaderContentLength, headerLen)
		}
		DecodeHTTPResponse(h, body)
		r, err := DecodeHTTPRequest(h, body)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an error without a message")
			}
			return
		}
		for i := range r.Inputs {
			if err := r.Inputs[i].Check(); err != nil {
				t.Fatalf("accepted an input that does not fit: %v", err)
			}
		}
		enc, n, err := EncodeRESTRequest(r)
		if err != nil {
			t.Fatalf("EncodeRESTRequest of a decoded request: %v", err)
		}
		back, err := DecodeRESTRequest(enc, n)
		if err != nil {
			t.Fatalf("a decoded request does not decode again from its binary form: %v", err)
		}
		sameInputs(t, "binary extension", r, back)
		fromProto, err := FromProtoRequest(r.Proto("m", "1"))
		if err != nil {
			t.Fatalf("a decoded request does not come back through gRPC: %v", err)
		}
		sameInputs(t, "gRPC", r, fromProto)
	})
}

func sameInputs(t *testing.T, via string, want, got *Request) {
	t.Helper()
	if len(got.Inputs) != len(want.Inputs) || len(got.Outputs) != len(want.Outputs) || got.ID != want.ID {
		t.Fatalf("through the %s: %d inputs, %d outputs, id %q; want %d, %d, %q", via,
			len(got.Inputs), len(got.Outputs), got.ID, len(want.Inputs), len(want.Outputs), want.ID)
	}
	for i, w := range want.Inputs {
		g := got.Inputs[i]
		if g.Name != w.Name || g.Datatype != w.Datatype || !slices.Equal(g.Shape, w.Shape) || !bytes.Equal(g.Raw, w.Raw) {
			t.Fatalf("through the %s, input %d changed:\nwant %s %s %v %x\ngot  %s %s %v %x", via, i,
				w.Name, w.Datatype, w.Shape, w.Raw, g.Name, g.Datatype, g.Shape, g.Raw)
		}
	}
}

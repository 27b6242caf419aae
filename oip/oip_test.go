package oip

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	pb "gantry.dev/gantry/oip/inferencepb"
)

// Every datatype with a JSON form survives JSON -> raw -> JSON.
func TestJSONDataRoundTrips(t *testing.T) {
	for _, tc := range []struct {
		dt, data string
	}{
		{"BOOL", `[true,false]`},
		{"INT8", `[-128,127]`}, {"INT16", `[-32768,5]`}, {"INT32", `[[1,2],[3,-4]]`}, {"INT64", `[-9223372036854775808]`},
		{"UINT8", `[255,0]`}, {"UINT16", `[65535]`}, {"UINT32", `[4294967295]`}, {"UINT64", `[18446744073709551615]`},
		{"FP32", `[1.5,-0.25]`}, {"FP64", `[3.141592653589793]`}, {"BYTES", `["a","héllo",""]`},
	} {
		t.Run(tc.dt, func(t *testing.T) {
			dec := json.NewDecoder(strings.NewReader(tc.data))
			dec.UseNumber()
			var v any
			if err := dec.Decode(&v); err != nil {
				t.Fatal(err)
			}
			raw, err := rawFromJSON("x", tc.dt, v)
			if err != nil {
				t.Fatal(err)
			}
			back, err := jsonData(&Tensor{Name: "x", Datatype: tc.dt, Raw: raw})
			if err != nil {
				t.Fatal(err)
			}
			got, _ := json.Marshal(back)
			want := strings.NewReplacer("[[", "[", "]]", "]", "],[", ",").Replace(tc.data)
			if string(got) != want {
				t.Fatalf("round trip of %s = %s", tc.data, got)
			}
		})
	}
}

func TestRESTRequestErrorsNameTheProblem(t *testing.T) {
	for name, tc := range map[string]struct {
		body      string
		headerLen int
		want      string
	}{
		"no inputs":       {`{"inputs":[]}`, -1, "no inputs"},
		"bad datatype":    {`{"inputs":[{"name":"x","datatype":"INT9","shape":[1],"data":[1]}]}`, -1, `datatype "INT9"`},
		"wrong count":     {`{"inputs":[{"name":"x","datatype":"INT32","shape":[3],"data":[1]}]}`, -1, "4 bytes of data for shape [3]"},
		"out of range":    {`{"inputs":[{"name":"x","datatype":"UINT8","shape":[1],"data":[300]}]}`, -1, "300 is not a UINT8"},
		"no data":         {`{"inputs":[{"name":"x","datatype":"INT32","shape":[1]}]}`, -1, "has no data"},
		"short binary":    {`{"inputs":[{"name":"x","datatype":"INT32","shape":[1],"parameters":{"binary_data_size":4}}]}`, 92, "only 0 bytes"},
		"header too long": {`{}`, 10, "only 2 bytes"},
		"fp16 as JSON":    {`{"inputs":[{"name":"x","datatype":"FP16","shape":[1],"data":[1]}]}`, -1, "binary section"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeRESTRequest([]byte(tc.body), tc.headerLen)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// A request through the binary extension, then gRPC, then back keeps
// every tensor and parameter.
func TestBinaryRESTAndProtoRoundTrip(t *testing.T) {
	f := make([]byte, 8)
	for i, v := range []float32{1, -2} {
		b := math.Float32bits(v)
		f[4*i], f[4*i+1], f[4*i+2], f[4*i+3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
	}
	in := &Request{ID: "q", Parameters: map[string]any{"k": int64(3), "s": "v"}, Inputs: []Tensor{
		BytesTensor("text", []byte("one"), []byte("two")),
		{Name: "f", Datatype: "FP32", Shape: []int64{2}, Raw: f},
		{Name: "h", Datatype: "FP16", Shape: []int64{1}, Raw: []byte{0, 60}},
	}, Outputs: []RequestedOutput{{Name: "f"}}}
	body, hl, err := EncodeRESTRequest(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeRESTRequest(body, hl)
	if err != nil {
		t.Fatal(err)
	}
	viaProto, err := FromProtoRequest(got.Proto("m", ""))
	if err != nil {
		t.Fatal(err)
	}
	for i := range in.Inputs {
		if a, b := in.Inputs[i], viaProto.Inputs[i]; a.Name != b.Name || a.Datatype != b.Datatype || !reflect.DeepEqual(a.Shape, b.Shape) || !bytes.Equal(a.Raw, b.Raw) {
			t.Errorf("input %d: %+v became %+v", i, a, b)
		}
	}
	if !reflect.DeepEqual(viaProto.Parameters, in.Parameters) || viaProto.ID != "q" {
		t.Errorf("parameters %v, id %q", viaProto.Parameters, viaProto.ID)
	}
	if !got.BinaryOutput || !got.Outputs[0].Binary {
		t.Errorf("outputs not asked for as binary: %+v", got)
	}
}

func TestRESTResponseHonoursRequestedOutputs(t *testing.T) {
	resp := &Response{ModelName: "m", Outputs: []Tensor{
		{Name: "a", Datatype: "INT32", Shape: []int64{1}, Raw: []byte{5, 0, 0, 0}},
		BytesTensor("b", []byte("\x89PNG")),
	}}
	// JSON for a, binary for b, nothing else.
	req := &Request{Outputs: []RequestedOutput{{Name: "a"}, {Name: "b", Binary: true}}}
	body, hl, err := EncodeRESTResponse(resp, req)
	if err != nil {
		t.Fatal(err)
	}
	if hl < 0 || !strings.Contains(string(body[:hl]), `"data":[5]`) || !bytes.Equal(body[hl:], JoinBytes([]byte("\x89PNG"))) {
		t.Fatalf("body %q, header length %d", body, hl)
	}
	back, err := DecodeRESTResponse(body, hl)
	if err != nil || len(back.Outputs) != 2 || !bytes.Equal(back.Outputs[1].Raw, resp.Outputs[1].Raw) {
		t.Fatalf("decoded %+v, %v", back, err)
	}
	// Only a.
	body, hl, _ = EncodeRESTResponse(resp, &Request{Outputs: []RequestedOutput{{Name: "a"}}})
	if hl != -1 || strings.Contains(string(body), `"b"`) {
		t.Fatalf("asked for a only, got %s (header length %d)", body, hl)
	}
}

func TestTypedContentsBecomeRaw(t *testing.T) {
	req := &pb.ModelInferRequest{Inputs: []*pb.ModelInferRequest_InferInputTensor{
		{Name: "i", Datatype: "INT16", Shape: []int64{2}, Contents: &pb.InferTensorContents{IntContents: []int32{-1, 2}}},
		{Name: "s", Datatype: "BYTES", Shape: []int64{1}, Contents: &pb.InferTensorContents{BytesContents: [][]byte{[]byte("x")}}},
	}}
	r, err := FromProtoRequest(req)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := r.Inputs[0].Int64s(); !reflect.DeepEqual(v, []int64{-1, 2}) {
		t.Errorf("INT16 = %v", v)
	}
	if !bytes.Equal(r.Inputs[1].Raw, JoinBytes([]byte("x"))) {
		t.Errorf("BYTES raw = %q", r.Inputs[1].Raw)
	}
	req.RawInputContents = [][]byte{{1}}
	if _, err := FromProtoRequest(req); err == nil || !strings.Contains(err.Error(), "1 entries for 2 inputs") {
		t.Errorf("mismatched raw_input_contents: %v", err)
	}
}

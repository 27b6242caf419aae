package oip

import (
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	pb "gantry.dev/gantry/oip/inferencepb"
)

func TestHeaderLengthReadsTheBinaryExtensionsHeader(t *testing.T) {
	for v, want := range map[string]int{"": -1, "0": 0, "42": 42} {
		h := http.Header{}
		if v != "" {
			h.Set(HeaderContentLength, v)
		}
		if got, err := HeaderLength(h); err != nil || got != want {
			t.Errorf("HeaderLength(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	for _, v := range []string{"-1", "x", "1.5"} {
		h := http.Header{HeaderContentLength: {v}}
		if _, err := HeaderLength(h); err == nil || !strings.Contains(err.Error(), HeaderContentLength) {
			t.Errorf("HeaderLength(%q): error %v, want one naming the header", v, err)
		}
	}
}

// A response written with WriteResponse reads back with DecodeHTTPResponse.
func TestWriteResponseAndDecodeHTTPResponseRoundTrip(t *testing.T) {
	req := &Request{Outputs: []RequestedOutput{{Name: "image", Binary: true}}}
	resp := &Response{ModelName: "m", Outputs: []Tensor{BytesTensor("image", []byte("png"))}}
	rec := httptest.NewRecorder()
	if err := WriteResponse(rec, resp, req); err != nil {
		t.Fatal(err)
	}
	if rec.Header().Get(HeaderContentLength) == "" || rec.Header().Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("headers %v: want the binary extension's", rec.Header())
	}
	got, err := DecodeHTTPResponse(rec.Header(), rec.Body.Bytes())
	if err != nil || got.ModelName != "m" || len(got.Outputs) != 1 || string(got.Outputs[0].Raw) != string(resp.Outputs[0].Raw) {
		t.Fatalf("decoded %+v, %v", got, err)
	}
}

func TestModelMetadataRoundTripsThroughProto(t *testing.T) {
	md := &ModelMetadata{Name: "m", Versions: []string{"1"}, Platform: "p",
		Inputs:  []TensorMetadata{{Name: "x", Datatype: "FP32", Shape: []int64{-1, 3}}},
		Outputs: []TensorMetadata{{Name: "y", Datatype: "BYTES", Shape: []int64{1}}}}
	if got := FromProtoMetadata(md.Proto()); !reflect.DeepEqual(got, md) {
		t.Fatalf("round trip: %+v, want %+v", got, md)
	}
	empty := FromProtoMetadata(&pb.ModelMetadataResponse{Name: "m"})
	if empty.Inputs == nil || empty.Outputs == nil || empty.Versions == nil {
		t.Fatalf("empty lists must encode as []: %+v", empty)
	}
}

func TestErrorMessageReadsTheErrorBody(t *testing.T) {
	if got := ErrorMessage(ErrorBody(`bad "x"`)); got != `bad "x"` {
		t.Errorf("ErrorMessage(ErrorBody) = %q", got)
	}
	if got := ErrorMessage([]byte("  plain text\n")); got != "plain text" {
		t.Errorf("ErrorMessage(plain) = %q", got)
	}
}

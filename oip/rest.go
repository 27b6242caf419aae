package oip

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// HeaderContentLength is the binary tensor extension's header: the length
// of the JSON header that starts the body; the raw tensors follow it.
const HeaderContentLength = "Inference-Header-Content-Length"

// REST-only parameters of the binary tensor extension.
const (
	paramBinarySize   = "binary_data_size"
	paramBinary       = "binary_data"
	paramBinaryOutput = "binary_data_output"
)

type restTensor struct {
	Name       string         `json:"name"`
	Datatype   string         `json:"datatype,omitempty"`
	Shape      []int64        `json:"shape"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Data       any            `json:"data,omitempty"`
}

type restOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

type restRequest struct {
	ID         string         `json:"id,omitempty"`
	Parameters map[string]any `json:"parameters,omitempty"`
	Inputs     []restTensor   `json:"inputs"`
	Outputs    []restOutput   `json:"outputs,omitempty"`
}

type restResponse struct {
	ModelName    string         `json:"model_name"`
	ModelVersion string         `json:"model_version,omitempty"`
	ID           string         `json:"id,omitempty"`
	Parameters   map[string]any `json:"parameters,omitempty"`
	Outputs      []restTensor   `json:"outputs"`
}

// splitBody separates the JSON header from the binary section; headerLen
// < 0 means the whole body is JSON.
func splitBody(body []byte, headerLen int) (header, rest []byte, err error) {
	if headerLen < 0 {
		return body, nil, nil
	}
	if headerLen > len(body) {
		return nil, nil, fmt.Errorf("%s is %d but the body has only %d bytes", HeaderContentLength, headerLen, len(body))
	}
	return body[:headerLen], body[headerLen:], nil
}

func decodeJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("the JSON body: %w", err)
	}
	if dec.More() {
		return fmt.Errorf("the JSON body holds more than one value; with binary tensors set %s", HeaderContentLength)
	}
	return nil
}

// binarySize reads a tensor's binary_data_size, if present.
func binarySize(params map[string]any) (int, bool, error) {
	v, ok := params[paramBinarySize]
	if !ok {
		return 0, false, nil
	}
	n, ok := v.(json.Number)
	if !ok {
		return 0, false, fmt.Errorf("%s must be a number", paramBinarySize)
	}
	size, err := strconv.Atoi(string(n))
	if err != nil || size < 0 {
		return 0, false, fmt.Errorf("%s must be an integer >= 0, got %s", paramBinarySize, n)
	}
	return size, true, nil
}

// takeTensor fills t's raw data from its JSON data or from the binary
// section, and returns what is left of the section.
func takeTensor(t restTensor, rest []byte) (Tensor, []byte, error) {
	x := Tensor{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape}
	size, binary, err := binarySize(t.Parameters)
	if err != nil {
		return x, rest, fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	x.Parameters = cleanParams(t.Parameters, paramBinarySize)
	switch {
	case binary && t.Data != nil:
		return x, rest, fmt.Errorf("tensor %q has both data and %s; use one", t.Name, paramBinarySize)
	case binary:
		if size > len(rest) {
			return x, rest, fmt.Errorf("tensor %q: %s is %d but only %d bytes of binary data are left", t.Name, paramBinarySize, size, len(rest))
		}
		x.Raw, rest = rest[:size:size], rest[size:]
	case t.Data == nil:
		return x, rest, fmt.Errorf("tensor %q has no data; give \"data\" or parameters.%s", t.Name, paramBinarySize)
	default:
		if x.Raw, err = rawFromJSON(t.Name, t.Datatype, t.Data); err != nil {
			return x, rest, err
		}
	}
	return x, rest, x.Check()
}

// DecodeRESTRequest parses the body of POST /v2/models/{m}/infer;
// headerLen is Inference-Header-Content-Length, or -1 when absent.
func DecodeRESTRequest(body []byte, headerLen int) (*Request, error) {
	header, rest, err := splitBody(body, headerLen)
	if err != nil {
		return nil, err
	}
	var in restRequest
	if err := decodeJSON(header, &in); err != nil {
		return nil, err
	}
	r := &Request{ID: in.ID}
	if v, ok := in.Parameters[paramBinaryOutput].(bool); ok {
		r.BinaryOutput = v
	}
	r.Parameters = normParams(cleanParams(in.Parameters, paramBinaryOutput))
	if len(in.Inputs) == 0 {
		return nil, fmt.Errorf("inputs: the request has no inputs")
	}
	for _, t := range in.Inputs {
		var x Tensor
		if x, rest, err = takeTensor(t, rest); err != nil {
			return nil, fmt.Errorf("inputs: %w", err)
		}
		x.Parameters = normParams(x.Parameters)
		r.Inputs = append(r.Inputs, x)
	}
	if len(rest) > 0 {
		return nil, fmt.Errorf("%d bytes of binary data are not claimed by any input's %s", len(rest), paramBinarySize)
	}
	for _, o := range in.Outputs {
		out := RequestedOutput{Name: o.Name}
		if v, ok := o.Parameters[paramBinary].(bool); ok {
			out.Binary = v
		}
		out.Parameters = normParams(cleanParams(o.Parameters, paramBinary))
		r.Outputs = append(r.Outputs, out)
	}
	return r, nil
}

// EncodeRESTRequest writes r as a REST request body with every input in the
// binary section and every output asked for as binary. It returns the body
// and the JSON header's length for Inference-Header-Content-Length.
func EncodeRESTRequest(r *Request) ([]byte, int, error) {
	out := restRequest{ID: r.ID, Parameters: withParam(r.Parameters, paramBinaryOutput, true)}
	size := 0
	for _, t := range r.Inputs {
		out.Inputs = append(out.Inputs, restTensor{Name: t.Name, Datatype: t.Datatype, Shape: shapeOrEmpty(t.Shape),
			Parameters: withParam(t.Parameters, paramBinarySize, len(t.Raw))})
		size += len(t.Raw)
	}
	for _, o := range r.Outputs {
		out.Outputs = append(out.Outputs, restOutput{Name: o.Name, Parameters: withParam(o.Parameters, paramBinary, true)})
	}
	header, err := json.Marshal(out)
	if err != nil {
		return nil, 0, err
	}
	body := make([]byte, 0, len(header)+size)
	body = append(body, header...)
	for _, t := range r.Inputs {
		body = append(body, t.Raw...)
	}
	return body, len(header), nil
}

// DecodeRESTResponse parses a replica's answer to POST .../infer.
func DecodeRESTResponse(body []byte, headerLen int) (*Response, error) {
	header, rest, err := splitBody(body, headerLen)
	if err != nil {
		return nil, err
	}
	var in restResponse
	dec := json.NewDecoder(bytes.NewReader(header))
	dec.UseNumber()
	if err := dec.Decode(&in); err != nil {
		return nil, fmt.Errorf("the replica's JSON answer: %w", err)
	}
	r := &Response{ModelName: in.ModelName, ModelVersion: in.ModelVersion, ID: in.ID, Parameters: normParams(in.Parameters)}
	for _, t := range in.Outputs {
		var x Tensor
		if x, rest, err = takeTensor(t, rest); err != nil {
			return nil, fmt.Errorf("the replica's outputs: %w", err)
		}
		x.Parameters = normParams(x.Parameters)
		r.Outputs = append(r.Outputs, x)
	}
	return r, nil
}

// EncodeRESTResponse writes resp as the answer to req: only the outputs req
// names (all when it names none), binary where req asked for binary data.
// It returns the body and the JSON header's length, -1 when nothing is
// binary (the body is plain JSON).
func EncodeRESTResponse(resp *Response, req *Request) ([]byte, int, error) {
	out := restResponse{ModelName: resp.ModelName, ModelVersion: resp.ModelVersion, ID: resp.ID, Parameters: resp.Parameters}
	var binary []*Tensor
	for i := range resp.Outputs {
		t := &resp.Outputs[i]
		wantBinary := req != nil && req.BinaryOutput
		if req != nil && len(req.Outputs) > 0 {
			found := false
			for _, o := range req.Outputs {
				if o.Name == t.Name {
					found, wantBinary = true, o.Binary || req.BinaryOutput
				}
			}
			if !found {
				continue
			}
		}
		if t.Datatype == "FP16" || t.Datatype == "BF16" {
			wantBinary = true
		}
		rt := restTensor{Name: t.Name, Datatype: t.Datatype, Shape: shapeOrEmpty(t.Shape), Parameters: t.Parameters}
		if wantBinary {
			rt.Parameters = withParam(t.Parameters, paramBinarySize, len(t.Raw))
			binary = append(binary, t)
		} else {
			data, err := jsonData(t)
			if err != nil {
				return nil, 0, err
			}
			rt.Data = data
		}
		out.Outputs = append(out.Outputs, rt)
	}
	if out.Outputs == nil {
		out.Outputs = []restTensor{}
	}
	header, err := json.Marshal(out)
	if err != nil {
		return nil, 0, err
	}
	if len(binary) == 0 {
		return header, -1, nil
	}
	for _, t := range binary {
		header = append(header, t.Raw...)
	}
	return header, len(header) - binaryLen(binary), nil
}

func binaryLen(ts []*Tensor) int {
	n := 0
	for _, t := range ts {
		n += len(t.Raw)
	}
	return n
}

func shapeOrEmpty(s []int64) []int64 {
	if s == nil {
		return []int64{}
	}
	return s
}

func cleanParams(m map[string]any, drop string) map[string]any {
	if _, ok := m[drop]; !ok {
		return m
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		if k != drop {
			out[k] = v
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func withParam(m map[string]any, k string, v any) map[string]any {
	out := make(map[string]any, len(m)+1)
	for key, val := range m {
		out[key] = val
	}
	out[k] = v
	return out
}

// normParams turns JSON numbers into int64 (whole) or float64, the types
// toProtoParams understands.
func normParams(m map[string]any) map[string]any {
	for k, v := range m {
		n, ok := v.(json.Number)
		if !ok {
			continue
		}
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			m[k] = i
		} else if f, err := strconv.ParseFloat(string(n), 64); err == nil && !math.IsInf(f, 0) {
			m[k] = f
		} else {
			m[k] = string(n)
		}
	}
	return m
}

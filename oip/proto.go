package oip

import (
	"fmt"
	"math"

	pb "gantry.dev/gantry/oip/inferencepb"
)

// FromProtoRequest converts a gRPC request; typed contents become raw.
func FromProtoRequest(in *pb.ModelInferRequest) (*Request, error) {
	raw := in.GetRawInputContents()
	if len(raw) > 0 && len(raw) != len(in.GetInputs()) {
		return nil, fmt.Errorf("raw_input_contents has %d entries for %d inputs; it needs one per input", len(raw), len(in.GetInputs()))
	}
	r := &Request{ID: in.GetId(), Parameters: fromProtoParams(in.GetParameters())}
	for i, t := range in.GetInputs() {
		x := Tensor{Name: t.GetName(), Datatype: t.GetDatatype(), Shape: t.GetShape(), Parameters: fromProtoParams(t.GetParameters())}
		if len(raw) > 0 {
			if t.GetContents() != nil {
				return nil, fmt.Errorf("input %q has contents and raw_input_contents is set; use one of them", x.Name)
			}
			x.Raw = raw[i]
		} else {
			var err error
			if x.Raw, err = rawFromContents(x.Name, x.Datatype, t.GetContents()); err != nil {
				return nil, err
			}
		}
		if err := x.Check(); err != nil {
			return nil, err
		}
		r.Inputs = append(r.Inputs, x)
	}
	for _, o := range in.GetOutputs() {
		r.Outputs = append(r.Outputs, RequestedOutput{Name: o.GetName(), Parameters: fromProtoParams(o.GetParameters())})
	}
	return r, nil
}

// Proto is r as a gRPC request for model and version, with raw inputs.
func (r *Request) Proto(model, version string) *pb.ModelInferRequest {
	out := &pb.ModelInferRequest{ModelName: model, ModelVersion: version, Id: r.ID, Parameters: toProtoParams(r.Parameters)}
	for _, t := range r.Inputs {
		out.Inputs = append(out.Inputs, &pb.ModelInferRequest_InferInputTensor{
			Name: t.Name, Datatype: t.Datatype, Shape: t.Shape, Parameters: toProtoParams(t.Parameters)})
		out.RawInputContents = append(out.RawInputContents, t.Raw)
	}
	for _, o := range r.Outputs {
		out.Outputs = append(out.Outputs, &pb.ModelInferRequest_InferRequestedOutputTensor{Name: o.Name, Parameters: toProtoParams(o.Parameters)})
	}
	return out
}

// FromProtoResponse converts a gRPC response; typed contents become raw.
func FromProtoResponse(in *pb.ModelInferResponse) (*Response, error) {
	raw := in.GetRawOutputContents()
	if len(raw) > 0 && len(raw) != len(in.GetOutputs()) {
		return nil, fmt.Errorf("raw_output_contents has %d entries for %d outputs", len(raw), len(in.GetOutputs()))
	}
	r := &Response{ModelName: in.GetModelName(), ModelVersion: in.GetModelVersion(), ID: in.GetId(), Parameters: fromProtoParams(in.GetParameters())}
	for i, t := range in.GetOutputs() {
		x := Tensor{Name: t.GetName(), Datatype: t.GetDatatype(), Shape: t.GetShape(), Parameters: fromProtoParams(t.GetParameters())}
		if len(raw) > 0 {
			x.Raw = raw[i]
		} else {
			var err error
			if x.Raw, err = rawFromContents(x.Name, x.Datatype, t.GetContents()); err != nil {
				return nil, err
			}
		}
		r.Outputs = append(r.Outputs, x)
	}
	return r, nil
}

// Proto is r as a gRPC response, with raw outputs.
func (r *Response) Proto() *pb.ModelInferResponse {
	out := &pb.ModelInferResponse{ModelName: r.ModelName, ModelVersion: r.ModelVersion, Id: r.ID, Parameters: toProtoParams(r.Parameters)}
	for _, t := range r.Outputs {
		out.Outputs = append(out.Outputs, &pb.ModelInferResponse_InferOutputTensor{
			Name: t.Name, Datatype: t.Datatype, Shape: t.Shape, Parameters: toProtoParams(t.Parameters)})
		out.RawOutputContents = append(out.RawOutputContents, t.Raw)
	}
	return out
}

func fromProtoParams(m map[string]*pb.InferParameter) map[string]any {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, p := range m {
		switch v := p.GetParameterChoice().(type) {
		case *pb.InferParameter_BoolParam:
			out[k] = v.BoolParam
		case *pb.InferParameter_Int64Param:
			out[k] = v.Int64Param
		case *pb.InferParameter_StringParam:
			out[k] = v.StringParam
		case *pb.InferParameter_DoubleParam:
			out[k] = v.DoubleParam
		case *pb.InferParameter_Uint64Param:
			out[k] = v.Uint64Param
		}
	}
	return out
}

// toProtoParams converts parameters; JSON numbers become int64 when whole,
// else double. Values of other types are dropped.
func toProtoParams(m map[string]any) map[string]*pb.InferParameter {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]*pb.InferParameter, len(m))
	for k, v := range m {
		var p pb.InferParameter
		switch x := v.(type) {
		case bool:
			p.ParameterChoice = &pb.InferParameter_BoolParam{BoolParam: x}
		case string:
			p.ParameterChoice = &pb.InferParameter_StringParam{StringParam: x}
		case int64:
			p.ParameterChoice = &pb.InferParameter_Int64Param{Int64Param: x}
		case int:
			p.ParameterChoice = &pb.InferParameter_Int64Param{Int64Param: int64(x)}
		case uint64:
			p.ParameterChoice = &pb.InferParameter_Uint64Param{Uint64Param: x}
		case float64:
			if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
				p.ParameterChoice = &pb.InferParameter_Int64Param{Int64Param: int64(x)}
			} else {
				p.ParameterChoice = &pb.InferParameter_DoubleParam{DoubleParam: x}
			}
		default:
			continue
		}
		out[k] = &p
	}
	return out
}

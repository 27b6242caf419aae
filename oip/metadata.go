package oip

import (
	"encoding/json"
	"fmt"

	pb "gantry.dev/gantry/oip/inferencepb"
)

// ModelMetadata is a model's metadata (GET /v2/models/{m}) in its REST
// form; Proto and FromProtoMetadata convert it to and from the gRPC one.
type ModelMetadata struct {
	Name     string           `json:"name"`
	Versions []string         `json:"versions"`
	Platform string           `json:"platform"`
	Inputs   []TensorMetadata `json:"inputs"`
	Outputs  []TensorMetadata `json:"outputs"`
}

// TensorMetadata describes one input or output of a model.
type TensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// DecodeMetadata parses a REST model metadata body.
func DecodeMetadata(body []byte) (*ModelMetadata, error) {
	var md ModelMetadata
	if err := json.Unmarshal(body, &md); err != nil {
		return nil, fmt.Errorf("model metadata is not JSON: %w", err)
	}
	return &md, nil
}

// FromProtoMetadata converts gRPC model metadata to its REST form; lists
// are never nil, so they encode as [].
func FromProtoMetadata(in *pb.ModelMetadataResponse) *ModelMetadata {
	tensors := func(ts []*pb.ModelMetadataResponse_TensorMetadata) []TensorMetadata {
		out := []TensorMetadata{}
		for _, t := range ts {
			out = append(out, TensorMetadata{t.GetName(), t.GetDatatype(), append([]int64{}, t.GetShape()...)})
		}
		return out
	}
	return &ModelMetadata{Name: in.GetName(), Versions: append([]string{}, in.GetVersions()...), Platform: in.GetPlatform(),
		Inputs: tensors(in.GetInputs()), Outputs: tensors(in.GetOutputs())}
}

// Proto converts m to gRPC model metadata.
func (m *ModelMetadata) Proto() *pb.ModelMetadataResponse {
	tensors := func(ts []TensorMetadata) []*pb.ModelMetadataResponse_TensorMetadata {
		var out []*pb.ModelMetadataResponse_TensorMetadata
		for _, t := range ts {
			out = append(out, &pb.ModelMetadataResponse_TensorMetadata{Name: t.Name, Datatype: t.Datatype, Shape: t.Shape})
		}
		return out
	}
	return &pb.ModelMetadataResponse{Name: m.Name, Versions: m.Versions, Platform: m.Platform,
		Inputs: tensors(m.Inputs), Outputs: tensors(m.Outputs)}
}

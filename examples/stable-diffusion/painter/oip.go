package painter

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"gantry.dev/gantry/oip"
)

// The painter's tensors in the Open Inference Protocol.
const (
	InputPrompt = "prompt" // BYTES, shape [1]
	InputSeed   = "seed"   // INT64, shape [1], optional
	InputSteps  = "steps"  // INT64, shape [1], optional
	OutputImage = "image"  // BYTES, shape [1]: one PNG
)

func isInferPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/v2/models/")
	return ok && rest != "/infer" && strings.HasSuffix(rest, "/infer")
}

// isModelPath reports whether p is /v2/models/{model}[/versions/{v}]:
// any path under /v2/models/ that names no action.
func isModelPath(p string) bool {
	rest, ok := strings.CutPrefix(p, "/v2/models/")
	return ok && rest != "" && !strings.HasSuffix(rest, "/infer") && !strings.HasSuffix(rest, "/ready")
}

// metadata answers GET /v2/models/{model}: the painter's tensors.
func (s *server) metadata(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		oipError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use GET")
		return
	}
	model, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/v2/models/"), "/versions/")
	w.Header().Set("Content-Type", "application/json")
	one := func(name, datatype string) oip.TensorMetadata {
		return oip.TensorMetadata{Name: name, Datatype: datatype, Shape: []int64{1}}
	}
	_ = json.NewEncoder(w).Encode(&oip.ModelMetadata{Name: model, Versions: []string{}, Platform: "painter",
		Inputs:  []oip.TensorMetadata{one(InputPrompt, "BYTES"), one(InputSeed, "INT64"), one(InputSteps, "INT64")},
		Outputs: []oip.TensorMetadata{one(OutputImage, "BYTES")}})
}

// infer answers POST /v2/models/{model}/infer (REST v2, JSON or binary
// tensors) with the same PNG that POST /imagine paints for the same
// prompt, seed and steps.
func (s *server) infer(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		oipError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed; use POST")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		oipError(w, http.StatusBadRequest, fmt.Sprintf("reading the body (at most %d bytes): %v", MaxBodyBytes, err))
		return
	}
	req, err := oip.DecodeHTTPRequest(r.Header, body)
	if err != nil {
		oipError(w, http.StatusBadRequest, err.Error())
		return
	}
	ir, err := fromTensors(req)
	if err != nil {
		oipError(w, http.StatusBadRequest, err.Error())
		return
	}
	p, err := ir.params(int(s.defaultSteps.Load()))
	if err != nil {
		oipError(w, http.StatusBadRequest, err.Error())
		return
	}
	png, err := s.paintPNG(r.Context(), p)
	if err != nil {
		if r.Context().Err() != nil {
			return
		}
		oipError(w, http.StatusBadRequest, err.Error())
		return
	}
	model := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/models/"), "/infer")
	model, _, _ = strings.Cut(model, "/versions/")
	resp := &oip.Response{ModelName: model, ID: req.ID, Outputs: []oip.Tensor{oip.BytesTensor(OutputImage, png.Bytes())}}
	if err := oip.WriteResponse(w, resp, req); err != nil {
		oipError(w, http.StatusBadRequest, err.Error())
	}
}

// fromTensors reads the painter's inputs; unknown inputs are an error.
func fromTensors(req *oip.Request) (imagineRequest, error) {
	var ir imagineRequest
	for i := range req.Inputs {
		t := &req.Inputs[i]
		switch t.Name {
		case InputPrompt:
			if t.Datatype != "BYTES" {
				return ir, fmt.Errorf("input prompt: datatype must be BYTES, got %s", t.Datatype)
			}
			els, err := oip.SplitBytes(t.Raw)
			if err != nil || len(els) != 1 {
				return ir, errors.New("input prompt: must hold exactly one element (shape [1])")
			}
			p := string(els[0])
			ir.Prompt = &p
		case InputSeed, InputSteps:
			v, err := t.Int64s()
			if err != nil || len(v) != 1 {
				return ir, fmt.Errorf("input %s: must be one integer (INT64, shape [1])", t.Name)
			}
			if t.Name == InputSeed {
				ir.Seed = &v[0]
			} else {
				n := int(v[0])
				ir.Steps = &n
			}
		default:
			return ir, fmt.Errorf("input %q is not known; inputs: prompt (BYTES [1]), seed (INT64 [1], optional), steps (INT64 [1], optional)", t.Name)
		}
	}
	if ir.Prompt == nil {
		return ir, errors.New("input prompt is required: BYTES, shape [1]")
	}
	for _, o := range req.Outputs {
		if o.Name != OutputImage {
			return ir, fmt.Errorf("output %q is not known; the painter has one output, image", o.Name)
		}
	}
	return ir, nil
}

func oipError(w http.ResponseWriter, code int, msg string) { oip.WriteError(w, code, msg) }

package oip

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// Tensor is one named input or output.
type Tensor struct {
	Name     string
	Datatype string // BOOL, UINT8..UINT64, INT8..INT64, FP16, BF16, FP32, FP64, BYTES
	Shape    []int64
	// Parameters are the tensor's parameters, without the REST-only
	// binary_data and binary_data_size.
	Parameters map[string]any
	// Raw is the data in the raw form (see the package doc).
	Raw []byte
}

// RequestedOutput names an output the client wants.
type RequestedOutput struct {
	Name       string
	Parameters map[string]any
	// Binary asks for the output in the binary section on REST.
	Binary bool
}

// Request is one inference request.
type Request struct {
	ID         string
	Parameters map[string]any
	Inputs     []Tensor
	Outputs    []RequestedOutput
	// BinaryOutput is REST's binary_data_output: every output binary.
	BinaryOutput bool
}

// Response is one inference response.
type Response struct {
	ModelName, ModelVersion, ID string
	Parameters                  map[string]any
	Outputs                     []Tensor
}

// Input returns the input called name, if any.
func (r *Request) Input(name string) (*Tensor, bool) {
	for i := range r.Inputs {
		if r.Inputs[i].Name == name {
			return &r.Inputs[i], true
		}
	}
	return nil, false
}

// elemSize is the size in bytes of one element of datatype dt; 0 for BYTES,
// -1 for an unknown datatype.
func elemSize(dt string) int {
	switch dt {
	case "BOOL", "UINT8", "INT8":
		return 1
	case "UINT16", "INT16", "FP16", "BF16":
		return 2
	case "UINT32", "INT32", "FP32":
		return 4
	case "UINT64", "INT64", "FP64":
		return 8
	case "BYTES":
		return 0
	}
	return -1
}

const datatypes = "BOOL, UINT8, UINT16, UINT32, UINT64, INT8, INT16, INT32, INT64, FP16, BF16, FP32, FP64, BYTES"

// elements is the number of elements shape holds.
func elements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("shape %v: dimensions must be >= 0", shape)
		}
		n *= d
		if n > 1<<40 {
			return 0, fmt.Errorf("shape %v is too large", shape)
		}
	}
	return n, nil
}

// Check reports whether t's raw data fits its datatype and shape.
func (t *Tensor) Check() error {
	size := elemSize(t.Datatype)
	if size < 0 {
		return fmt.Errorf("tensor %q: datatype %q is not one of %s", t.Name, t.Datatype, datatypes)
	}
	n, err := elements(t.Shape)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if size > 0 {
		if int64(len(t.Raw)) != n*int64(size) {
			return fmt.Errorf("tensor %q: %d bytes of data for shape %v of %s (want %d)", t.Name, len(t.Raw), t.Shape, t.Datatype, n*int64(size))
		}
		return nil
	}
	els, err := SplitBytes(t.Raw)
	if err != nil {
		return fmt.Errorf("tensor %q: %w", t.Name, err)
	}
	if int64(len(els)) != n {
		return fmt.Errorf("tensor %q: %d BYTES elements for shape %v (want %d)", t.Name, len(els), t.Shape, n)
	}
	return nil
}

// SplitBytes splits raw BYTES data into its elements; they alias raw.
func SplitBytes(raw []byte) ([][]byte, error) {
	var out [][]byte
	for len(raw) > 0 {
		if len(raw) < 4 {
			return nil, fmt.Errorf("BYTES data ends inside an element's 4-byte length")
		}
		n := binary.LittleEndian.Uint32(raw)
		raw = raw[4:]
		if uint64(n) > uint64(len(raw)) {
			return nil, fmt.Errorf("BYTES element of %d bytes but only %d left", n, len(raw))
		}
		out = append(out, raw[:n:n])
		raw = raw[n:]
	}
	return out, nil
}

// JoinBytes is the raw form of BYTES elements.
func JoinBytes(els ...[]byte) []byte {
	n := 0
	for _, e := range els {
		n += 4 + len(e)
	}
	out := make([]byte, 0, n)
	for _, e := range els {
		out = binary.LittleEndian.AppendUint32(out, uint32(len(e)))
		out = append(out, e...)
	}
	return out
}

// BytesTensor is a BYTES tensor of shape [len(els)].
func BytesTensor(name string, els ...[]byte) Tensor {
	return Tensor{Name: name, Datatype: "BYTES", Shape: []int64{int64(len(els))}, Raw: JoinBytes(els...)}
}

// Int64s returns the elements of an integer tensor of any width as int64.
func (t *Tensor) Int64s() ([]int64, error) {
	size := elemSize(t.Datatype)
	if !strings.HasPrefix(t.Datatype, "INT") && !strings.HasPrefix(t.Datatype, "UINT") {
		return nil, fmt.Errorf("tensor %q: datatype %s is not an integer type", t.Name, t.Datatype)
	}
	if len(t.Raw)%size != 0 {
		return nil, fmt.Errorf("tensor %q: %d bytes is not a whole number of %s", t.Name, len(t.Raw), t.Datatype)
	}
	out := make([]int64, 0, len(t.Raw)/size)
	signed := t.Datatype[0] == 'I'
	for b := t.Raw; len(b) > 0; b = b[size:] {
		var v uint64
		switch size {
		case 1:
			v = uint64(b[0])
			if signed {
				v = uint64(int64(int8(b[0])))
			}
		case 2:
			v = uint64(binary.LittleEndian.Uint16(b))
			if signed {
				v = uint64(int64(int16(v)))
			}
		case 4:
			v = uint64(binary.LittleEndian.Uint32(b))
			if signed {
				v = uint64(int64(int32(v)))
			}
		default:
			v = binary.LittleEndian.Uint64(b)
		}
		out = append(out, int64(v))
	}
	return out, nil
}

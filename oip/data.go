package oip

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"strconv"

	pb "gantry.dev/gantry/oip/inferencepb"
)

// rawFromJSON converts a REST "data" value (flat or nested arrays) of
// datatype dt to the raw form.
func rawFromJSON(name, dt string, data any) ([]byte, error) {
	size := elemSize(dt)
	if size < 0 {
		return nil, fmt.Errorf("input %q: datatype %q is not one of %s", name, dt, datatypes)
	}
	if dt == "FP16" || dt == "BF16" {
		return nil, fmt.Errorf("input %q: %s has no JSON form; send it in the binary section (binary_data_size)", name, dt)
	}
	var out []byte
	var walk func(v any) error
	walk = func(v any) error {
		switch x := v.(type) {
		case []any:
			for _, e := range x {
				if err := walk(e); err != nil {
					return err
				}
			}
			return nil
		case string:
			if dt != "BYTES" {
				return fmt.Errorf("input %q: a string in the data of a %s tensor", name, dt)
			}
			out = binary.LittleEndian.AppendUint32(out, uint32(len(x)))
			out = append(out, x...)
			return nil
		case bool:
			if dt != "BOOL" {
				return fmt.Errorf("input %q: a boolean in the data of a %s tensor", name, dt)
			}
			b := byte(0)
			if x {
				b = 1
			}
			out = append(out, b)
			return nil
		case json.Number:
			var err error
			out, err = appendNumber(out, dt, string(x))
			if err != nil {
				return fmt.Errorf("input %q: %w", name, err)
			}
			return nil
		}
		return fmt.Errorf("input %q: data must hold numbers, booleans or strings matching datatype %s, got %T", name, dt, v)
	}
	if err := walk(data); err != nil {
		return nil, err
	}
	return out, nil
}

func appendNumber(out []byte, dt, s string) ([]byte, error) {
	le := binary.LittleEndian
	switch dt {
	case "INT8", "INT16", "INT32", "INT64":
		bits := 8 * elemSize(dt)
		v, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%s is not an %s", s, dt)
		}
		return appendInt(out, uint64(v), bits/8), nil
	case "UINT8", "UINT16", "UINT32", "UINT64":
		bits := 8 * elemSize(dt)
		v, err := strconv.ParseUint(s, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("%s is not a %s", s, dt)
		}
		return appendInt(out, v, bits/8), nil
	case "FP32":
		v, err := strconv.ParseFloat(s, 32)
		if err != nil {
			return nil, fmt.Errorf("%s is not an FP32", s)
		}
		return le.AppendUint32(out, math.Float32bits(float32(v))), nil
	case "FP64":
		v, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, fmt.Errorf("%s is not an FP64", s)
		}
		return le.AppendUint64(out, math.Float64bits(v)), nil
	}
	return nil, fmt.Errorf("a number in the data of a %s tensor", dt)
}

func appendInt(out []byte, v uint64, size int) []byte {
	for i := range size {
		out = append(out, byte(v>>(8*i)))
	}
	return out
}

// jsonData converts raw data to a flat REST "data" array.
func jsonData(t *Tensor) ([]any, error) {
	size := elemSize(t.Datatype)
	switch {
	case size < 0:
		return nil, fmt.Errorf("output %q: datatype %q is not one of %s", t.Name, t.Datatype, datatypes)
	case t.Datatype == "FP16" || t.Datatype == "BF16":
		return nil, fmt.Errorf("output %q: %s has no JSON form; ask for it as binary_data", t.Name, t.Datatype)
	case size == 0:
		els, err := SplitBytes(t.Raw)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", t.Name, err)
		}
		out := make([]any, len(els))
		for i, e := range els {
			out[i] = string(e)
		}
		return out, nil
	case len(t.Raw)%size != 0:
		return nil, fmt.Errorf("output %q: %d bytes is not a whole number of %s", t.Name, len(t.Raw), t.Datatype)
	}
	le := binary.LittleEndian
	out := make([]any, 0, len(t.Raw)/size)
	for b := t.Raw; len(b) > 0; b = b[size:] {
		switch t.Datatype {
		case "BOOL":
			out = append(out, b[0] != 0)
		case "FP32":
			out = append(out, math.Float32frombits(le.Uint32(b)))
		case "FP64":
			out = append(out, math.Float64frombits(le.Uint64(b)))
		case "UINT64":
			out = append(out, le.Uint64(b))
		}
	}
	if len(out) > 0 || len(t.Raw) == 0 {
		return out, nil
	}
	ints, err := t.Int64s()
	if err != nil {
		return nil, err
	}
	for _, v := range ints {
		out = append(out, v)
	}
	return out, nil
}

// rawFromContents converts gRPC typed contents to the raw form.
func rawFromContents(name, dt string, c *pb.InferTensorContents) ([]byte, error) {
	le := binary.LittleEndian
	var out []byte
	switch dt {
	case "BOOL":
		for _, v := range c.GetBoolContents() {
			b := byte(0)
			if v {
				b = 1
			}
			out = append(out, b)
		}
	case "INT8", "INT16", "INT32":
		for _, v := range c.GetIntContents() {
			out = appendInt(out, uint64(int64(v)), elemSize(dt))
		}
	case "INT64":
		for _, v := range c.GetInt64Contents() {
			out = le.AppendUint64(out, uint64(v))
		}
	case "UINT8", "UINT16", "UINT32":
		for _, v := range c.GetUintContents() {
			out = appendInt(out, uint64(v), elemSize(dt))
		}
	case "UINT64":
		for _, v := range c.GetUint64Contents() {
			out = le.AppendUint64(out, v)
		}
	case "FP32":
		for _, v := range c.GetFp32Contents() {
			out = le.AppendUint32(out, math.Float32bits(v))
		}
	case "FP64":
		for _, v := range c.GetFp64Contents() {
			out = le.AppendUint64(out, math.Float64bits(v))
		}
	case "BYTES":
		out = JoinBytes(c.GetBytesContents()...)
	case "FP16", "BF16":
		return nil, fmt.Errorf("tensor %q: %s has no typed contents; send it raw", name, dt)
	default:
		return nil, fmt.Errorf("tensor %q: datatype %q is not one of %s", name, dt, datatypes)
	}
	return out, nil
}

// Package oip holds the Open Inference Protocol's (KServe v2, Triton)
// inference messages in one form and converts them to and from both wires:
// gRPC (package inferencepb) and REST v2 JSON, with Triton's binary tensor
// extension (a JSON header of Inference-Header-Content-Length bytes followed
// by the raw tensors).
//
// A Tensor carries its data raw: little-endian elements in row-major order,
// and for BYTES each element as a 4-byte little-endian length and its bytes,
// which is what both wires' raw forms use. JSON "data" arrays and gRPC typed
// contents are converted on the way in and out. The gateway uses the package
// to translate between clients and replicas; a Go replica can use it to
// answer POST /v2/models/{m}/infer (see DecodeRESTRequest, EncodeRESTResponse).
package oip

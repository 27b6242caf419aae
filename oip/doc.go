// Package oip holds the Open Inference Protocol's (KServe v2, Triton)
// messages in one form and converts them to and from both wires: gRPC
// (package inferencepb) and REST v2 JSON, with Triton's binary tensor
// extension (a JSON header of Inference-Header-Content-Length bytes followed
// by the raw tensors). Every translation between the wires in Gantry — the
// gateway's, both ways, and the painter's — is done here, once.
//
// The files, one concept each:
//
//	tensor.go    Tensor, Request, Response: the one form; BYTES elements
//	data.go      JSON "data" arrays and gRPC typed contents <-> raw tensors
//	rest.go      REST v2 bodies: DecodeRESTRequest, EncodeRESTRequest,
//	             DecodeRESTResponse, EncodeRESTResponse
//	proto.go     gRPC messages: FromProtoRequest, Request.Proto,
//	             FromProtoResponse, Response.Proto
//	http.go      the HTTP side of REST v2: the binary extension's header
//	             (HeaderLength, SetBodyHeaders), DecodeHTTPRequest,
//	             DecodeHTTPResponse, WriteResponse, the {"error": ...} body
//	metadata.go  model metadata (GET /v2/models/{m}) <-> gRPC ModelMetadata
//
// A Tensor carries its data raw: little-endian elements in row-major order,
// and for BYTES each element as a 4-byte little-endian length and its bytes,
// which is what both wires' raw forms use. JSON "data" arrays and gRPC typed
// contents are converted on the way in and out.
//
// The gateway translates only where the client's wire and the replica's
// differ: a REST client's inference goes to an HTTP replica as it is, and a
// gRPC client's to a gRPC replica as raw frames (package router). A Go
// replica can use the package to answer POST /v2/models/{m}/infer (see
// DecodeHTTPRequest, WriteResponse).
package oip

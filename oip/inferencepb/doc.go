// Package inferencepb is the generated Go code for the Open Inference
// Protocol's gRPC service, inference.GRPCInferenceService (KServe v2 and
// Triton), from grpc_service.proto. Do not edit the .pb.go files; run go
// generate.
package inferencepb

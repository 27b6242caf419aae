package inferencepb

// Regenerate with protoc (Debian: protobuf-compiler), protoc-gen-go and
// protoc-gen-go-grpc on PATH. CI uses the committed code.
//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative grpc_service.proto

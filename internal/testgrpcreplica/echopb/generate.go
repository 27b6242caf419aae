// Package echopb is the generated code of echo.proto, the test replica's
// own service. Regenerate with protoc, protoc-gen-go and protoc-gen-go-grpc
// on PATH.
package echopb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative echo.proto

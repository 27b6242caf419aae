package config

import (
	"strings"
	"testing"
	"time"
)

// The bounds on what one client can hold: each field's default, its value
// when set, and the error that names it and its range when it is out of
// range.
func TestClientLimits(t *testing.T) {
	const app = "\napplications: [{deployments: [{name: d, replica: {command: [x]}}]}]\n"
	t.Run("defaults", func(t *testing.T) {
		c, err := Parse([]byte(app))
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name      string
			got, want any
		}{
			{"read_header_timeout_s", c.ReadHeaderTimeout(), 10 * time.Second},
			{"min_body_rate_bytes_per_s", c.MinBodyRate(), 1024.0},
			{"min_response_rate_bytes_per_s", c.MinResponseRate(), 1024.0},
			{"slow_client_grace_s", c.SlowClientGrace(), 10 * time.Second},
			{"max_infer_body_bytes", c.MaxInferBodyBytes(), int64(16 << 20)},
			{"http_options.max_connections", c.MaxHTTPConnections(), 10000},
			{"max_receive_message_bytes", c.MaxReceiveMessageBytes(), 16 << 20},
			{"max_concurrent_streams", c.MaxConcurrentStreams(), 100},
			{"grpc_options.max_connections", c.MaxGRPCConnections(), 10000},
		} {
			if tc.got != tc.want {
				t.Errorf("%s: default %v, want %v", tc.name, tc.got, tc.want)
			}
		}
	})
	t.Run("set", func(t *testing.T) {
		c, err := Parse([]byte(`
http_options: {read_header_timeout_s: 2.5, min_body_rate_bytes_per_s: 10, min_response_rate_bytes_per_s: 20,
  slow_client_grace_s: 0.5, max_infer_body_bytes: 4096, max_connections: 50}
grpc_options: {max_receive_message_bytes: 1000, max_concurrent_streams: 7, max_connections: 60}` + app))
		if err != nil {
			t.Fatal(err)
		}
		if c.ReadHeaderTimeout() != 2500*time.Millisecond || c.MinBodyRate() != 10 || c.MinResponseRate() != 20 ||
			c.SlowClientGrace() != 500*time.Millisecond || c.MaxInferBodyBytes() != 4096 || c.MaxHTTPConnections() != 50 ||
			c.MaxReceiveMessageBytes() != 1000 || c.MaxConcurrentStreams() != 7 || c.MaxGRPCConnections() != 60 {
			t.Errorf("settings as written not in force: %+v %+v", c.HTTPOptions, c.GRPCOptions)
		}
	})
	for _, tc := range []struct {
		yaml, want string
	}{
		{"http_options: {read_header_timeout_s: 0}", "http_options.read_header_timeout_s: must be > 0, got 0"},
		{"http_options: {min_body_rate_bytes_per_s: -1}", "http_options.min_body_rate_bytes_per_s: must be > 0, got -1"},
		{"http_options: {min_response_rate_bytes_per_s: 0}", "http_options.min_response_rate_bytes_per_s: must be > 0, got 0"},
		{"http_options: {slow_client_grace_s: -0.5}", "http_options.slow_client_grace_s: must be > 0, got -0.5"},
		{"http_options: {max_infer_body_bytes: 0}", "http_options.max_infer_body_bytes: must be in 1..9223372036854775807 (or omitted for 16777216), got 0"},
		{"http_options: {max_connections: -3}", "http_options.max_connections: must be in 1..16777216 (or omitted for 10000), got -3"},
		{"http_options: {max_connections: 16777217}", "http_options.max_connections: must be in 1..16777216 (or omitted for 10000), got 16777217"},
		{"grpc_options: {max_receive_message_bytes: 0}", "grpc_options.max_receive_message_bytes: must be in 1..2147483647 (or omitted for 16777216), got 0"},
		{"grpc_options: {max_receive_message_bytes: 2147483648}", "grpc_options.max_receive_message_bytes: must be in 1..2147483647 (or omitted for 16777216), got 2147483648"},
		{"grpc_options: {max_concurrent_streams: 0}", "grpc_options.max_concurrent_streams: must be in 1..2147483647 (or omitted for 100), got 0"},
		{"grpc_options: {max_connections: 0}", "grpc_options.max_connections: must be in 1..16777216 (or omitted for 10000), got 0"},
		{"http_options: {max_connections: ten}", "http_options.max_connections: expected an integer"},
	} {
		t.Run(tc.yaml, func(t *testing.T) {
			_, err := Parse([]byte(tc.yaml + app))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want it to contain %q", err, tc.want)
			}
			if err != nil && strings.Count(err.Error(), "\n") > 0 {
				t.Errorf("one problem expected, got:\n%v", err)
			}
		})
	}
}

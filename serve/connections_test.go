package serve

import "testing"

func TestConnectionCapsFitTheOpenFileLimit(t *testing.T) {
	for _, tc := range []struct {
		name               string
		nofile             uint64
		http, grpc         int
		wantHTTP, wantGRPC int
	}{
		{"unknown limit: as configured", 0, 10000, 10000, 10000, 10000},
		{"room enough: as configured", 1 << 20, 10000, 10000, 10000, 10000},
		{"small caps fit anywhere", 4096, 50, 5, 50, 5},
		// (20000 - fdRoom) / 2 = 9328, shared in proportion.
		{"lowered in proportion", 20000, 10000, 10000, 4664, 4664},
		{"lowered in proportion, unequal", 20000, 30000, 10000, 6996, 2332},
		// 1024 / 4 = 256 when the room would leave less.
		{"tiny limit: a quarter of it", 1024, 10000, 10000, 128, 128},
		{"never below one", 1024, 100000, 1, 255, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, g := connectionCaps(tc.nofile, tc.http, tc.grpc)
			if h != tc.wantHTTP || g != tc.wantGRPC {
				t.Errorf("connectionCaps(%d, %d, %d) = %d, %d; want %d, %d", tc.nofile, tc.http, tc.grpc, h, g, tc.wantHTTP, tc.wantGRPC)
			}
		})
	}
}

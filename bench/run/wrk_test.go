package main

import (
	"testing"
	"time"
)

const wrkSample = `Running 10s test @ http://127.0.0.1:18777/
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency   703.72us    1.03ms  12.07ms   89.40%
    Req/Sec    36.24k     4.90k   45.47k    73.33%
  Latency Distribution
     50%  358.00us
     75%  685.00us
     90%    1.82ms
     99%    4.91ms
  216424 requests in 3.00s, 16.92MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  72055.56
Transfer/sec:      5.63MB
`

func TestParseWrk(t *testing.T) {
	r, err := parseWrk(wrkSample)
	if err != nil {
		t.Fatal(err)
	}
	want := wrkResult{
		ReqPerSec:    72055.56,
		P50:          358 * time.Microsecond,
		P99:          4910 * time.Microsecond,
		Requests:     216424,
		Non2xx:       7,
		SocketErrors: 5,
	}
	if r != want {
		t.Errorf("parseWrk = %+v, want %+v", r, want)
	}
	if r.Errors() != 12 {
		t.Errorf("Errors() = %d, want 12", r.Errors())
	}
}

func TestParseWrkIncomplete(t *testing.T) {
	if _, err := parseWrk("unable to connect to 127.0.0.1:1 Connection refused\n"); err == nil {
		t.Error("parseWrk accepted a report without results")
	}
}

func TestParseFlags(t *testing.T) {
	o, err := parseFlags([]string{"--conns", "64, 1,64", "--only", "gantry,direct", "--duration", "3s"})
	if err != nil {
		t.Fatal(err)
	}
	if len(o.conns) != 2 || o.conns[0] != 64 || o.conns[1] != 1 {
		t.Errorf("conns = %v, want [64 1]", o.conns)
	}
	if len(o.targets) != 2 || o.targets[0] != targetDirect || o.targets[1] != targetGantry {
		t.Errorf("targets = %v, want [direct gantry]", o.targets)
	}
	for _, bad := range [][]string{{"--only", "envoy"}, {"--conns", "0"}, {"--duration", "10ms"}} {
		if _, err := parseFlags(bad); err == nil {
			t.Errorf("parseFlags(%q) accepted", bad)
		}
	}
}

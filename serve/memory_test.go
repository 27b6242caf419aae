package serve

import (
	"context"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"gantry.dev/gantry/internal/testenv"
)

// After a burst, the heap the runtime would keep is returned to the OS:
// measured on this process's real heap.
func TestMemoryIsReturnedAfterABurst(t *testing.T) {
	burst := make([][]byte, 128)
	for i := range burst {
		burst[i] = make([]byte, 1<<20)
		burst[i][0] = 1
	}
	if _, held := readHeap(); held < 128<<20 {
		t.Fatalf("the burst holds %d MiB, want at least 128", held>>20)
	}
	runtime.KeepAlive(burst) // held until here, then dropped

	m := newMemoryReturn(slog.New(slog.DiscardHandler))
	m.period = 10 * time.Millisecond
	m.quietBytes = 1 << 62 // whatever the other tests allocate meanwhile
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- m.run(ctx) }()
	testenv.WaitFor(t, 10*time.Second, "the heap to be returned", func() bool {
		_, held := readHeap()
		return held < m.keepBytes
	})
	cancel()
	<-done
}

// The memory is returned only when the gateway is quiet and holds more
// than it may keep: never adding collections under load, and once per
// burst.
func TestMemoryReturnWaitsForQuiet(t *testing.T) {
	const mb = 1 << 20
	type period struct{ allocated, held uint64 }
	for _, tc := range []struct {
		name    string
		periods []period
		frees   int
	}{
		{"idle and small", []period{{1 * mb, 40 * mb}, {2 * mb, 40 * mb}}, 0},
		{"busy and large", []period{{500 * mb, 400 * mb}, {1000 * mb, 400 * mb}}, 0},
		{"quiet after a burst, once", []period{{500 * mb, 400 * mb}, {501 * mb, 400 * mb}, {502 * mb, 400 * mb}, {503 * mb, 400 * mb}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var now period
			frees := 0
			m := &memoryReturn{quietBytes: 16 * mb, keepBytes: 64 * mb, log: slog.New(slog.DiscardHandler),
				read: func() (uint64, uint64) { return now.allocated, now.held },
				free: func() { frees++ }}
			var last uint64
			returned := false
			for _, p := range tc.periods {
				now = p
				if returned {
					now.held = 10 * mb // what the free gave back stays given back
				}
				f := frees
				last = m.check(last)
				returned = returned || frees > f
			}
			if frees != tc.frees {
				t.Errorf("returned memory %d times, want %d", frees, tc.frees)
			}
		})
	}
}

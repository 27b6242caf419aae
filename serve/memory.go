package serve

import (
	"context"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// Giving memory back. A burst of large requests (bodies the gateway holds
// whole, large gRPC messages) grows the heap; once the burst is over the
// Go runtime keeps that memory, for the next burst, until a garbage
// collection that an idle gateway may not run for minutes, and the buffer
// pools keep their buffers until two have run. Measured on the gantry
// binary (bench/RESULTS.md, "Memory after an attack"): 44 MB idle, 421 MB
// after six 100 MB REST inferences, twelve large gRPC messages and 50,000
// streams, and still 421 MB a minute later.
//
// memoryReturn watches for that: when the gateway has gone quiet (it
// allocated less than quietBytes in the last period) while the heap holds
// more than keepBytes, it collects twice (the pools' buffers go on the
// second) and returns the free memory to the OS (debug.FreeOSMemory). A
// gateway under load allocates more than quietBytes a period, so this
// never adds collections to a busy one; and once the memory is returned
// the heap holds less than keepBytes, so a quiet one pays once.
type memoryReturn struct {
	period     time.Duration
	quietBytes uint64 // allocated per period by a quiet gateway, at most
	keepBytes  uint64 // heap a quiet gateway may keep
	// read returns the bytes allocated since the process started and the
	// bytes the heap holds now (in use or free, not yet returned).
	read func() (allocated, held uint64)
	// free collects and returns free memory to the OS.
	free func()
	log  *slog.Logger
}

func newMemoryReturn(log *slog.Logger) *memoryReturn {
	return &memoryReturn{period: 10 * time.Second, quietBytes: 16 << 20, keepBytes: 64 << 20,
		read: readHeap, free: freeMemory, log: log}
}

// run checks every period until ctx ends.
func (m *memoryReturn) run(ctx context.Context) error {
	t := time.NewTicker(m.period)
	defer t.Stop()
	last, _ := m.read()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			last = m.check(last)
		}
	}
}

// check is one period's look, given the allocation count at the last; it
// returns the count now.
func (m *memoryReturn) check(last uint64) uint64 {
	allocated, held := m.read()
	if allocated-last >= m.quietBytes || held <= m.keepBytes {
		return allocated
	}
	m.free()
	allocated, after := m.read()
	m.log.Debug("returned memory to the OS after a burst", "heap_before_mb", held>>20, "heap_after_mb", after>>20)
	return allocated
}

var heapMetrics = []string{
	"/gc/heap/allocs:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/unused:bytes",
	"/memory/classes/heap/free:bytes",
}

func readHeap() (allocated, held uint64) {
	s := make([]metrics.Sample, len(heapMetrics))
	for i, name := range heapMetrics {
		s[i].Name = name
	}
	metrics.Read(s)
	for i, v := range s {
		if v.Value.Kind() != metrics.KindUint64 {
			continue
		}
		if i == 0 {
			allocated = v.Value.Uint64()
		} else {
			held += v.Value.Uint64()
		}
	}
	return allocated, held
}

func freeMemory() {
	runtime.GC()         // pooled buffers move to the pools' victim caches...
	debug.FreeOSMemory() // ...and are freed by this collection, then returned
}

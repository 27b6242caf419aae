package admin

import (
	"testing"
	"unsafe"
)

// Finding 4 of issue 14: an idle gateway with 1,000 applications grew to
// ~500 MB, most of it time series kept as growing slices of points with
// pointer fields. A series is now at most SeriesPoints runs of 40-byte
// samples in a slice that never grows past that, so its memory is bounded
// by design, however long the gateway samples; an idle one is one run.
func TestSeriesMemoryIsBoundedByDesign(t *testing.T) {
	if got := unsafe.Sizeof(sample{}); got != 40 {
		t.Errorf("a sample is %d bytes, want 40", got)
	}
	if got := unsafe.Sizeof(run{}); got > 44 {
		t.Errorf("a run is %d bytes, want at most 44", got)
	}
	const base = 1_800_000_000_000 // ms
	var busy, idle ring
	var busyRef, idleRef []sample
	keep := func(ref []sample, p sample) []sample {
		if ref = append(ref, p); len(ref) > SeriesPoints {
			ref = ref[1:]
		}
		return ref
	}
	for i := range 3 * SeriesPoints {
		var p sample
		p.setMs(base + int64(i)*1000 + int64(i%7)*5) // a ticker's jitter
		b := p
		b.rps = float32(i % 10)         // busy: runs of one
		b.running = uint16(i / 100 % 2) // and of some length
		busy.add(b, 1000)
		busyRef = keep(busyRef, b)
		idle.add(p, 1000)
		idleRef = keep(idleRef, p)
	}
	for name, c := range map[string]struct {
		rg      *ring
		ref     []sample
		maxRuns int
	}{"busy": {&busy, busyRef, SeriesPoints}, "idle": {&idle, idleRef, 1}} {
		if c.rg.total != SeriesPoints || cap(c.rg.runs) > SeriesPoints || len(c.rg.runs)-c.rg.head > c.maxRuns {
			t.Errorf("%s: %d samples in %d runs (room for %d); want %d samples in at most %d runs, room for at most %d",
				name, c.rg.total, len(c.rg.runs)-c.rg.head, cap(c.rg.runs), SeriesPoints, c.maxRuns, SeriesPoints)
		}
		got := c.rg.appendSelected(nil, 0, 0)
		if len(got) != len(c.ref) {
			t.Fatalf("%s: %d samples selected, want %d", name, len(got), len(c.ref))
		}
		for i := range got {
			if d := got[i].ms() - c.ref[i].ms(); !got[i].sameValues(c.ref[i]) || d < -jitterMs || d > jitterMs {
				t.Fatalf("%s: sample %d is %+v, want %+v (time within %d ms)", name, i, got[i], c.ref[i], jitterMs)
			}
		}
		// ?since= and ?last= select from the newest.
		since := c.ref[SeriesPoints-10].time() + 0.5
		if got := c.rg.appendSelected(nil, since, 0); len(got) != 9 || got[8].sec != c.ref[SeriesPoints-1].sec {
			t.Errorf("%s: after %v: %d samples, want the newest 9", name, since, len(got))
		}
		if got := c.rg.appendSelected(nil, since, 3); len(got) != 3 || got[0].sec != c.ref[SeriesPoints-3].sec {
			t.Errorf("%s: the last 3 after %v: %+v", name, since, got)
		}
	}
	// Steady state allocates nothing.
	var p sample
	p.setMs(base + 3*SeriesPoints*1000)
	if allocs := testing.AllocsPerRun(3*SeriesPoints, func() {
		p.setMs(p.ms() + 1000)
		p.rps++
		busy.add(p, 1000)
	}); allocs != 0 {
		t.Errorf("adding a sample allocates %v times, want 0", allocs)
	}
}

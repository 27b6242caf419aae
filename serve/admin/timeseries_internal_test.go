package admin

import (
	"testing"
	"unsafe"
)

// Finding 4 of issue 14: an idle gateway with 1,000 applications grew to
// ~500 MB, most of it time series kept as growing slices of points with
// pointer fields. A series is now one fixed array of 40-byte samples, so
// its memory is bounded by its type, however long the gateway samples.
func TestSeriesMemoryIsBoundedByDesign(t *testing.T) {
	if got := unsafe.Sizeof(sample{}); got != 40 {
		t.Errorf("a sample is %d bytes, want 40", got)
	}
	// The ring is the array plus a few words and the previous counters'
	// slice header: nothing that grows with time.
	if got, want := unsafe.Sizeof(ring{}), uintptr(SeriesPoints*40+128); got > want {
		t.Errorf("a ring is %d bytes, want at most %d", got, want)
	}
	var rg ring
	p := sample{sec: 1, rps: 1}
	if allocs := testing.AllocsPerRun(3*SeriesPoints, func() { p.sec++; rg.add(p) }); allocs != 0 {
		t.Errorf("adding a sample allocates %v times, want 0", allocs)
	}
	if rg.n != SeriesPoints {
		t.Errorf("the ring holds %d samples after %d, want %d", rg.n, 3*SeriesPoints+1, SeriesPoints)
	}
	// Oldest first, the newest last.
	if first, last := rg.at(0).sec, rg.at(rg.n-1).sec; last != p.sec || last-first != SeriesPoints-1 {
		t.Errorf("ring spans %d..%d, want the last %d up to %d", first, last, SeriesPoints, p.sec)
	}
}

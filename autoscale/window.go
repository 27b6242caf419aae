package autoscale

import (
	"slices"
	"time"
)

// windowSegments is how many pieces a Window keeps per period at most:
// samples closer together than period/windowSegments share one.
const windowSegments = 256

// Window is the load Decide reads: the time-weighted mean of a sampled load
// (in-flight plus queued requests) over the last look-back period.
//
// Time-weighted, not per sample: each sample's value holds until the next
// one (sample and hold), and the mean weighs it by how long it held. So the
// mean does not depend on how often or how evenly Add is called — a burst of
// samples in one second counts for one second, not for its number — and a
// load that was high for 2 s of a 30 s period counts for 2/30, however the
// samples fell. The last sample holds until now.
//
// Before a whole period has been seen, the mean is over the time seen so far
// (from the first sample), not diluted by zeros for the time before it. A
// period of 0 gives the latest sample.
//
// Memory is bounded whatever the sampling rate: samples older than the
// period are dropped, and samples closer together than period/256 are
// folded into one piece holding their time-weighted total. The mean is
// exact when samples are at least that far apart; otherwise only the oldest
// piece, which the period's start may cut, is prorated as if uniform.
//
// A Window is not safe for concurrent use: the controller loop owns it.
type Window struct {
	period time.Duration
	gap    time.Duration // pieces narrower than this take in the next sample
	// pieces are closed spans: piece i covers [pieces[i].start,
	// pieces[i+1].start), the last one up to last.at.
	pieces []piece
	last   sample // the latest sample; it holds from last.at until now
	seen   bool
}

type piece struct {
	start  time.Time
	area   float64 // load × seconds over the piece
	hi, lo float64 // the highest and lowest load held within the piece
}

type sample struct {
	at   time.Time
	load float64
}

// NewWindow returns an empty Window averaging over period.
func NewWindow(period time.Duration) *Window {
	period = max(period, 0)
	return &Window{period: period, gap: period / windowSegments}
}

// Add records that load (in-flight plus queued requests; a negative or NaN
// load counts as 0) is the load from now until the next sample. A sample at
// or before the latest one replaces the latest one's value.
func (w *Window) Add(now time.Time, load float64) {
	if !(load > 0) {
		load = 0
	}
	if !w.seen {
		w.last, w.seen = sample{now, load}, true
		return
	}
	if !now.After(w.last.at) {
		w.last.load = load
		return
	}
	area := w.last.load * now.Sub(w.last.at).Seconds()
	if n := len(w.pieces); n > 0 && w.last.at.Sub(w.pieces[n-1].start) < w.gap {
		p := &w.pieces[n-1]
		p.area += area
		p.hi, p.lo = max(p.hi, w.last.load), min(p.lo, w.last.load)
	} else {
		w.pieces = append(w.pieces, piece{start: w.last.at, area: area, hi: w.last.load, lo: w.last.load})
	}
	w.last = sample{now, load}

	from := now.Add(-w.period)
	drop := 0
	for drop < len(w.pieces) && !w.end(drop).After(from) {
		drop++
	}
	w.pieces = slices.Delete(w.pieces, 0, drop)
}

// Average returns the time-weighted mean load over the period up to now,
// or 0 when nothing was added.
func (w *Window) Average(now time.Time) float64 {
	if !w.seen {
		return 0
	}
	from := now.Add(-w.period)
	var area, covered float64 // load × seconds, seconds
	for i, p := range w.pieces {
		end := w.end(i)
		lo, hi := latest(p.start, from), earliest(end, now)
		if !hi.After(lo) {
			continue
		}
		part := hi.Sub(lo).Seconds()
		area += p.area * part / end.Sub(p.start).Seconds()
		covered += part
	}
	if lo := latest(w.last.at, from); now.After(lo) {
		part := now.Sub(lo).Seconds()
		area += w.last.load * part
		covered += part
	}
	if covered == 0 {
		return w.last.load
	}
	return area / covered
}

// Max returns the highest load held at any time in the period up to now,
// or 0 when nothing was added (aggregation_function: max).
func (w *Window) Max(now time.Time) float64 {
	return w.extreme(now, func(p piece) float64 { return p.hi }, func(a, b float64) float64 { return max(a, b) })
}

// Min returns the lowest load held at any time in the period up to now, or
// 0 when nothing was added (aggregation_function: min).
func (w *Window) Min(now time.Time) float64 {
	return w.extreme(now, func(p piece) float64 { return p.lo }, func(a, b float64) float64 { return min(a, b) })
}

// extreme folds pick(piece) with better over the pieces that overlap the
// period, and the latest sample, which holds until now.
func (w *Window) extreme(now time.Time, pick func(piece) float64, better func(a, b float64) float64) float64 {
	if !w.seen {
		return 0
	}
	from := now.Add(-w.period)
	v := w.last.load
	for i, p := range w.pieces {
		if w.end(i).After(from) {
			v = better(v, pick(p))
		}
	}
	return v
}

// end is where piece i ends: where the next begins, or at the latest sample.
func (w *Window) end(i int) time.Time {
	if i+1 < len(w.pieces) {
		return w.pieces[i+1].start
	}
	return w.last.at
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func earliest(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

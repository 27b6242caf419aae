package admin

import (
	"math"
	"time"

	"gantry.dev/gantry/router"
)

// ring is one deployment's last SeriesPoints samples, run-length encoded:
// consecutive samples equal in everything but their time, a sampling
// interval apart (give or take jitterMs), are one run. An idle deployment's 15 minutes are one
// run; a busy one's at most SeriesPoints runs, since a run holds at least
// one sample. The runs live in one slice that never grows past
// SeriesPoints, so a ring's memory is bounded by design.
type ring struct {
	runs  []run // runs[head:] are held, oldest first
	head  int
	total int // samples held, at most SeriesPoints
	prev  router.Stats
	prevT time.Time
	gen   uint64 // the Sample that last saw the deployment
}

// run is n samples equal to first but for the time: the i-th is stepMs·i
// milliseconds after first.
type run struct {
	first  sample
	n      uint16
	stepMs uint16
}

// jitterMs is how far from its run's step a sample may come and still join
// the run: its time is then reported as the run's, off by at most this.
const jitterMs = 50

func (p sample) ms() int64 { return int64(p.sec)*1000 + int64(p.msec) }

func (p *sample) setMs(ms int64) { p.sec, p.msec = uint32(ms/1000), uint16(ms%1000) }

// sameValues reports whether p and q differ only in time (NaN percentiles
// are equal).
func (p sample) sameValues(q sample) bool {
	f := math.Float32bits
	return f(p.rps) == f(q.rps) && f(p.errorsPS) == f(q.errorsPS) && f(p.p50) == f(q.p50) &&
		f(p.p90) == f(q.p90) && f(p.p99) == f(q.p99) && p.queued == q.queued && p.inflight == q.inflight &&
		p.running == q.running && p.replicas == q.replicas && p.tgt == q.tgt
}

// add appends p, taken stepMs after the sample before it (the sampling
// interval), dropping the oldest sample once SeriesPoints are held.
func (rg *ring) add(p sample, stepMs uint16) {
	if rg.total == SeriesPoints {
		rg.dropOldest()
	}
	rg.total++
	if len(rg.runs) > rg.head {
		r := &rg.runs[len(rg.runs)-1]
		d := p.ms() - r.first.ms() - int64(r.n)*int64(r.stepMs) // off the run's next time
		if r.first.sameValues(p) && r.n < math.MaxUint16 && d >= -jitterMs && d <= jitterMs {
			r.n++
			return
		}
	}
	if len(rg.runs) == cap(rg.runs) {
		if rg.head > 0 { // reuse the room of dropped runs
			rg.runs = rg.runs[:copy(rg.runs, rg.runs[rg.head:])]
			rg.head = 0
		} else { // held runs <= held samples <= SeriesPoints: never more room than that
			grown := make([]run, len(rg.runs), min(max(2*cap(rg.runs), 4), SeriesPoints))
			copy(grown, rg.runs)
			rg.runs = grown
		}
	}
	rg.runs = append(rg.runs, run{first: p, n: 1, stepMs: stepMs})
}

func (rg *ring) dropOldest() {
	r := &rg.runs[rg.head]
	if r.n--; r.n == 0 {
		rg.head++
	} else {
		r.first.setMs(r.first.ms() + int64(r.stepMs))
	}
	rg.total--
}

// appendSelected appends to dst the samples of rg after since (Unix
// seconds), the newest last of them at most (0: all), oldest first.
func (rg *ring) appendSelected(dst []sample, since float64, last int) []sample {
	skip := -1 // samples after since to leave out; -1: not counted yet
	for pass := 0; pass < 2; pass++ {
		after := 0
		for _, r := range rg.runs[rg.head:] {
			p := r.first
			for i := 0; i < int(r.n); i++ {
				if i > 0 {
					p.setMs(r.first.ms() + int64(i)*int64(r.stepMs))
				}
				if p.time() <= since {
					continue
				}
				if pass == 1 && after >= skip {
					dst = append(dst, p)
				}
				after++
			}
		}
		skip = 0
		if last > 0 && after > last {
			skip = after - last
		}
	}
	return dst
}

// time is the sample's time in Unix seconds.
func (p sample) time() float64 { return float64(p.ms()) / 1000 }

package painter

import "math"

// rng is a splitmix64 generator: tiny, fast, and the same sequence on every
// platform for the same seed. Each Paint owns its own.
type rng struct{ s uint64 }

func newRNG(seed int64, stream uint64) *rng {
	r := &rng{s: uint64(seed) ^ (stream * 0xd1342543de82ef95)}
	r.next()
	return r
}

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.next()>>11) / (1 << 53) }

// between returns a number in [a, b).
func (r *rng) between(a, b float64) float64 { return a + (b-a)*r.float() }

// intn returns an integer in [0, n).
func (r *rng) intn(n int) int { return int(r.next() % uint64(n)) }

// chance is true with probability p.
func (r *rng) chance(p float64) bool { return r.float() < p }

// hash2 mixes integer lattice coordinates and a seed into 32 bits.
func hash2(x, y int32, seed uint32) uint32 {
	h := uint32(x)*0x27d4eb2d ^ uint32(y)*0x165667b1 ^ seed*0x9e3779b9
	h ^= h >> 15
	h *= 0x85ebca6b
	h ^= h >> 13
	h *= 0xc2b2ae35
	h ^= h >> 16
	return h
}

// lattice is the value at a lattice point, in [0, 1).
func lattice(x, y int32, seed uint32) float64 {
	return float64(hash2(x, y, seed)>>8) / (1 << 24)
}

// valueNoise is smooth 2D value noise in [0, 1).
func valueNoise(x, y float64, seed uint32) float64 {
	fx, fy := math.Floor(x), math.Floor(y)
	ix, iy := int32(fx), int32(fy)
	tx, ty := smooth(x-fx), smooth(y-fy)
	a := lattice(ix, iy, seed)
	b := lattice(ix+1, iy, seed)
	c := lattice(ix, iy+1, seed)
	d := lattice(ix+1, iy+1, seed)
	return lerp(lerp(a, b, tx), lerp(c, d, tx), ty)
}

// fbm sums octaves of value noise; the result is roughly in [0, 1).
func fbm(x, y float64, octaves int, seed uint32) float64 {
	sum, amp, norm := 0.0, 0.5, 0.0
	for i := range octaves {
		sum += amp * valueNoise(x, y, seed+uint32(i)*101)
		norm += amp
		x, y = x*2.03+17.1, y*2.03+9.7
		amp *= 0.5
	}
	return sum / norm
}

// noise1 is smooth 1D value noise in [0, 1).
func noise1(x float64, seed uint32) float64 {
	f := math.Floor(x)
	i := int32(f)
	return lerp(lattice(i, 0, seed), lattice(i+1, 0, seed), smooth(x-f))
}

// fbm1 is 1D fractal noise in roughly [0, 1).
func fbm1(x float64, octaves int, seed uint32) float64 {
	sum, amp, norm := 0.0, 0.5, 0.0
	for i := range octaves {
		sum += amp * noise1(x, seed+uint32(i)*131)
		norm += amp
		x = x*2.1 + 3.3
		amp *= 0.5
	}
	return sum / norm
}

func smooth(t float64) float64 { return t * t * (3 - 2*t) }

func lerp(a, b, t float64) float64 { return a + (b-a)*t }

func clamp01(v float64) float64 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}

// smoothstep is 0 below e0, 1 above e1, smooth in between.
func smoothstep(e0, e1, x float64) float64 { return smooth(clamp01((x - e0) / (e1 - e0))) }

package painter

import (
	"context"
	"image"
	"math"
)

// Paint paints the image p describes. The same Params always give the same
// pixels (on the same architecture), and cost grows linearly with Steps and
// with the number of pixels.
func Paint(p Params) (*image.RGBA, error) {
	return PaintContext(context.Background(), p)
}

// PaintContext is Paint that gives up between steps once ctx is done,
// returning ctx's error.
func PaintContext(ctx context.Context, p Params) (*image.RGBA, error) {
	p, err := p.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	clean := render(p.Prompt, p.Seed, p.Width, p.Height)
	target := brushwork(clean, p.Seed)
	x := make([]float32, len(target.pix))
	tmp := clean.pix // the clean render is not needed any more: reuse it
	d := diffusion{w: p.Width, h: p.Height, target: target.pix, x: x, tmp: tmp, r: newRNG(p.Seed, 2)}
	d.init()
	for t := range p.Steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		d.step(t, p.Steps)
	}
	return d.image(), nil
}

// diffusion refines seeded noise toward the target, like a sampler walking
// a noise schedule: at step t the image is target + s_t·(noise − target),
// with s_t falling from 1 to 1/(steps+1). Each step also smooths the image
// in proportion to the noise left (the "denoiser") and adds a little fresh
// noise, so few steps leave a grainy, soft image and many a clean one.
type diffusion struct {
	w, h   int
	target []float32
	x, tmp []float32
	r      *rng
}

// init fills x with seeded noise around mid grey.
func (d *diffusion) init() {
	for i := 0; i < len(d.x); {
		v := d.r.next()
		for k := 0; k < 4 && i < len(d.x); k++ {
			d.x[i] = 0.5 + float32(int16(v>>(16*k)))*(0.45/32768)
			i++
		}
	}
}

// step performs refinement step t of n.
func (d *diffusion) step(t, n int) {
	sNow := 1 - float32(t)/float32(n+1)
	sNext := 1 - float32(t+1)/float32(n+1)
	alpha := 1 - sNext/sNow // the share of the way to the target taken now
	beta := 0.6 * sNow      // how strongly to smooth
	sigma := 0.08 * sNext   // fresh noise

	w, h, x, tmp := d.w, d.h, d.x, d.tmp
	stride := 3 * w
	// Horizontal [1 2 1]/4 pass into tmp.
	for y := range h {
		row := x[y*stride : (y+1)*stride : (y+1)*stride]
		out := tmp[y*stride : (y+1)*stride : (y+1)*stride]
		for c := range 3 {
			out[c] = (3*row[c] + row[c+3]) * 0.25
			out[stride-3+c] = (3*row[stride-3+c] + row[stride-6+c]) * 0.25
		}
		for i := 3; i < stride-3; i++ {
			out[i] = (row[i-3] + 2*row[i] + row[i+3]) * 0.25
		}
	}
	// Vertical pass, fused with the move toward the target and the noise.
	var bits uint64
	left := 0
	for y := range h {
		up, down := max(y-1, 0), min(y+1, h-1)
		above := tmp[up*stride : (up+1)*stride : (up+1)*stride]
		mid := tmp[y*stride : (y+1)*stride : (y+1)*stride]
		below := tmp[down*stride : (down+1)*stride : (down+1)*stride]
		row := x[y*stride : (y+1)*stride : (y+1)*stride]
		tg := d.target[y*stride : (y+1)*stride : (y+1)*stride]
		for i := range row {
			if left == 0 {
				bits, left = d.r.next(), 4
			}
			noise := float32(int16(bits)) * (1.0 / 32768)
			bits >>= 16
			left--
			v := row[i]
			blur := (above[i] + 2*mid[i] + below[i]) * 0.25
			v += (blur - v) * beta
			v += (tg[i] - v) * alpha
			row[i] = v + noise*sigma
		}
	}
}

// image converts x to an opaque RGBA image.
func (d *diffusion) image() *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, d.w, d.h))
	for y := range d.h {
		src := d.x[y*3*d.w : (y+1)*3*d.w]
		dst := img.Pix[y*img.Stride : y*img.Stride+4*d.w]
		for i, j := 0, 0; i < len(src); i, j = i+3, j+4 {
			dst[j] = to8(src[i])
			dst[j+1] = to8(src[i+1])
			dst[j+2] = to8(src[i+2])
			dst[j+3] = 255
		}
	}
	return img
}

func to8(v float32) uint8 {
	switch {
	case v <= 0:
		return 0
	case v >= 1:
		return 255
	}
	return uint8(v*255 + 0.5)
}

// brushwork makes the clean render look painted: edges wobble as if laid
// down by a brush, and strokes of slightly varying tone follow a slowly
// turning direction. It returns a new canvas.
func brushwork(src *canvas, seed int64) *canvas {
	out := newCanvas(src.w, src.h)
	u := float64(min(src.w, src.h)) / 512
	s := uint32(seed>>16) ^ 0x5bd1e995
	for y := range src.h {
		fy := float64(y)
		for x := range src.w {
			fx := float64(x)
			// Domain warp: sample a little off to the side.
			wx := (valueNoise(fx/(7*u), fy/(7*u), s) - 0.5) * 5 * u
			wy := (valueNoise(fx/(7*u), fy/(7*u), s+1) - 0.5) * 5 * u
			col := src.at(int(fx+wx), int(fy+wy))
			// Strokes: noise stretched along a slowly turning direction.
			a := (valueNoise(fx/(110*u), fy/(110*u), s+2) - 0.5) * 1.6
			ca, sa := math.Cos(a), math.Sin(a)
			along := (fx*ca + fy*sa) / (14 * u)
			across := (-fx*sa + fy*ca) / (1.6 * u)
			k := 1 + (valueNoise(along, across, s+3)-0.5)*0.07
			i := 3 * (y*src.w + x)
			out.pix[i] = float32(col.r * k)
			out.pix[i+1] = float32(col.g * k)
			out.pix[i+2] = float32(col.b * k)
		}
	}
	return out
}

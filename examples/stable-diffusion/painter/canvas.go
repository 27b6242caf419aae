package painter

import "math"

// rgb is a colour with channels in [0, 1].
type rgb struct{ r, g, b float64 }

// hex builds a colour from 0xRRGGBB.
func hex(v uint32) rgb {
	return rgb{float64(v>>16&0xff) / 255, float64(v>>8&0xff) / 255, float64(v&0xff) / 255}
}

func (c rgb) mix(d rgb, t float64) rgb {
	return rgb{lerp(c.r, d.r, t), lerp(c.g, d.g, t), lerp(c.b, d.b, t)}
}

func (c rgb) scale(k float64) rgb { return rgb{c.r * k, c.g * k, c.b * k} }

func (c rgb) luma() float64 { return 0.299*c.r + 0.587*c.g + 0.114*c.b }

// saturate moves c away from (k > 1) or toward (k < 1) its grey.
func (c rgb) saturate(k float64) rgb {
	l := c.luma()
	return rgb{clamp01(l + (c.r-l)*k), clamp01(l + (c.g-l)*k), clamp01(l + (c.b-l)*k)}
}

// hsv builds a colour from hue (turns, any value), saturation and value.
func hsv(h, s, v float64) rgb {
	h -= math.Floor(h)
	h *= 6
	i := int(h)
	f := h - float64(i)
	p, q, t := v*(1-s), v*(1-s*f), v*(1-s*(1-f))
	switch i {
	case 0:
		return rgb{v, t, p}
	case 1:
		return rgb{q, v, p}
	case 2:
		return rgb{p, v, t}
	case 3:
		return rgb{p, q, v}
	case 4:
		return rgb{t, p, v}
	default:
		return rgb{v, p, q}
	}
}

// toHSV is the inverse of hsv.
func (c rgb) toHSV() (h, s, v float64) {
	mx := math.Max(c.r, math.Max(c.g, c.b))
	mn := math.Min(c.r, math.Min(c.g, c.b))
	v, d := mx, mx-mn
	if mx <= 0 || d <= 0 {
		return 0, 0, v
	}
	s = d / mx
	switch mx {
	case c.r:
		h = (c.g - c.b) / d
	case c.g:
		h = 2 + (c.b-c.r)/d
	default:
		h = 4 + (c.r-c.g)/d
	}
	h /= 6
	return h - math.Floor(h), s, v
}

// rotate turns c's hue by dh turns.
func (c rgb) rotate(dh float64) rgb {
	h, s, v := c.toHSV()
	return hsv(h+dh, s, v)
}

// canvas is a float RGB image, channels interleaved, row-major.
type canvas struct {
	w, h int
	pix  []float32
}

func newCanvas(w, h int) *canvas { return &canvas{w: w, h: h, pix: make([]float32, 3*w*h)} }

func (c *canvas) at(x, y int) rgb {
	if x < 0 {
		x = 0
	} else if x >= c.w {
		x = c.w - 1
	}
	if y < 0 {
		y = 0
	} else if y >= c.h {
		y = c.h - 1
	}
	i := 3 * (y*c.w + x)
	return rgb{float64(c.pix[i]), float64(c.pix[i+1]), float64(c.pix[i+2])}
}

// blend paints col over pixel (x, y) with opacity a.
func (c *canvas) blend(x, y int, col rgb, a float64) {
	if a <= 0 || x < 0 || y < 0 || x >= c.w || y >= c.h {
		return
	}
	if a > 1 {
		a = 1
	}
	i := 3 * (y*c.w + x)
	p := c.pix[i : i+3 : i+3]
	p[0] += float32((col.r - float64(p[0])) * a)
	p[1] += float32((col.g - float64(p[1])) * a)
	p[2] += float32((col.b - float64(p[2])) * a)
}

// add brightens pixel (x, y) by col*a, like light.
func (c *canvas) add(x, y int, col rgb, a float64) {
	if a <= 0 || x < 0 || y < 0 || x >= c.w || y >= c.h {
		return
	}
	i := 3 * (y*c.w + x)
	p := c.pix[i : i+3 : i+3]
	p[0] += float32(col.r * a)
	p[1] += float32(col.g * a)
	p[2] += float32(col.b * a)
}

// bounds clips [x0, x1) x [y0, y1) to the canvas.
func (c *canvas) bounds(x0, y0, x1, y1 float64) (int, int, int, int) {
	ix0 := max(0, int(math.Floor(x0)))
	iy0 := max(0, int(math.Floor(y0)))
	ix1 := min(c.w, int(math.Ceil(x1))+1)
	iy1 := min(c.h, int(math.Ceil(y1))+1)
	return ix0, iy0, ix1, iy1
}

// ellipse fills an anti-aliased ellipse.
func (c *canvas) ellipse(cx, cy, rx, ry float64, col rgb, a float64) {
	x0, y0, x1, y1 := c.bounds(cx-rx-1, cy-ry-1, cx+rx+1, cy+ry+1)
	k := math.Min(rx, ry)
	for y := y0; y < y1; y++ {
		dy := (float64(y) + 0.5 - cy) / ry
		for x := x0; x < x1; x++ {
			dx := (float64(x) + 0.5 - cx) / rx
			d := (math.Sqrt(dx*dx+dy*dy) - 1) * k // about the distance in pixels
			c.blend(x, y, col, a*clamp01(0.5-d))
		}
	}
}

// glow adds light around (cx, cy) that falls off with distance over radius r.
func (c *canvas) glow(cx, cy, r float64, col rgb, strength float64) {
	reach := r * 6
	x0, y0, x1, y1 := c.bounds(cx-reach, cy-reach, cx+reach, cy+reach)
	for y := y0; y < y1; y++ {
		dy := (float64(y) + 0.5 - cy) / r
		for x := x0; x < x1; x++ {
			dx := (float64(x) + 0.5 - cx) / r
			d2 := dx*dx + dy*dy
			fall := 1/(1+d2*d2) - 1.0/1297 // reaches 0 at d = 6
			c.add(x, y, col, strength*fall)
		}
	}
}

// span fills row y between x0 and x1 with soft ends.
func (c *canvas) span(y int, x0, x1 float64, col rgb, a float64) {
	if y < 0 || y >= c.h || x1 <= x0 {
		return
	}
	ix0, ix1 := max(0, int(math.Floor(x0))), min(c.w, int(math.Ceil(x1)))
	for x := ix0; x < ix1; x++ {
		fx := float64(x)
		cov := math.Min(fx+1, x1) - math.Max(fx, x0)
		c.blend(x, y, col, a*clamp01(cov))
	}
}

// rect fills [x0, x1) x [y0, y1) with soft edges.
func (c *canvas) rect(x0, y0, x1, y1 float64, col rgb, a float64) {
	for y := max(0, int(math.Floor(y0))); y < min(c.h, int(math.Ceil(y1))); y++ {
		fy := float64(y)
		cov := math.Min(fy+1, y1) - math.Max(fy, y0)
		c.span(y, x0, x1, col, a*clamp01(cov))
	}
}

// triangle fills an upright triangle: apex (ax, ay), base from bx0 to bx1 at by.
func (c *canvas) triangle(ax, ay, bx0, bx1, by float64, col rgb, a float64) {
	for y := max(0, int(math.Floor(ay))); y < min(c.h, int(math.Ceil(by))); y++ {
		t := (float64(y) + 0.5 - ay) / (by - ay)
		c.span(y, lerp(ax, bx0, t), lerp(ax, bx1, t), col, a)
	}
}

// line draws a segment of the given width with round ends.
func (c *canvas) line(x0, y0, x1, y1, width float64, col rgb, a float64) {
	hw := width / 2
	bx0, by0, bx1, by1 := c.bounds(math.Min(x0, x1)-hw-1, math.Min(y0, y1)-hw-1,
		math.Max(x0, x1)+hw+1, math.Max(y0, y1)+hw+1)
	dx, dy := x1-x0, y1-y0
	l2 := dx*dx + dy*dy
	for y := by0; y < by1; y++ {
		py := float64(y) + 0.5
		for x := bx0; x < bx1; x++ {
			px := float64(x) + 0.5
			t := 0.0
			if l2 > 0 {
				t = clamp01(((px-x0)*dx + (py-y0)*dy) / l2)
			}
			ex, ey := px-(x0+t*dx), py-(y0+t*dy)
			d := math.Sqrt(ex*ex+ey*ey) - hw
			c.blend(x, y, col, a*clamp01(0.5-d))
		}
	}
}

// fillBelow fills everything below the curve top[x] down to the bottom of
// the canvas, shading from colTop at the curve to colBottom at yBottom.
func (c *canvas) fillBelow(top []float64, colTop, colBottom rgb, yBottom, a float64) {
	for x := 0; x < c.w; x++ {
		t0 := top[x]
		for y := max(0, int(math.Floor(t0))); y < c.h; y++ {
			cov := clamp01(float64(y) + 1 - t0)
			g := clamp01((float64(y) - t0) / math.Max(1, yBottom-t0))
			c.blend(x, y, colTop.mix(colBottom, g), a*cov)
		}
	}
}

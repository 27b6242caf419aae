package painter

import "math"

// palette holds the colours of one scene.
type palette struct {
	skyTop, skyMid, skyLow rgb // zenith, middle, horizon
	sun, sunGlow           rgb
	cloud, cloudLit        rgb
	far, mid, near         rgb // mountains far to near
	ground, ground2        rgb // land near the horizon and in the foreground
	water                  rgb
	foliage, trunk         rgb
	accent                 rgb // flowers, boat sails
	window                 rgb // lit windows, lanterns
	silhouette             rgb // the cat, the lighthouse rock
}

func basePalette(k skyKind) palette {
	switch k {
	case skySunset:
		return palette{
			skyTop: hex(0x24195a), skyMid: hex(0xc4487a), skyLow: hex(0xffb04a),
			sun: hex(0xfff0b0), sunGlow: hex(0xff8a3a),
			cloud: hex(0x5c3470), cloudLit: hex(0xff9a6a),
			far: hex(0x8a4a80), mid: hex(0x5a2f66), near: hex(0x361f48),
			ground: hex(0x4a2c4a), ground2: hex(0x22142c), water: hex(0x3a2a6a),
			foliage: hex(0x2a2038), trunk: hex(0x1c1224), accent: hex(0xff5a7a),
			window: hex(0xffd27a), silhouette: hex(0x150c1c),
		}
	case skyDawn:
		return palette{
			skyTop: hex(0x4f78c0), skyMid: hex(0xe8a8c8), skyLow: hex(0xffe0b0),
			sun: hex(0xfffae0), sunGlow: hex(0xffc890),
			cloud: hex(0xc8a0c8), cloudLit: hex(0xfff0e0),
			far: hex(0xa898c8), mid: hex(0x7a78a8), near: hex(0x4e5a78),
			ground: hex(0x6a8a6a), ground2: hex(0x3a5a48), water: hex(0x6a88c0),
			foliage: hex(0x2e5a44), trunk: hex(0x3a2a2a), accent: hex(0xff7aa0),
			window: hex(0xffe0a0), silhouette: hex(0x262a3a),
		}
	case skyNight:
		return palette{
			skyTop: hex(0x03081c), skyMid: hex(0x0c1c48), skyLow: hex(0x284a80),
			sun: hex(0xf4f0da), sunGlow: hex(0x7a9ad8),
			cloud: hex(0x1a2444), cloudLit: hex(0x6a7aa8),
			far: hex(0x22335e), mid: hex(0x16224a), near: hex(0x0c1430),
			ground: hex(0x101c34), ground2: hex(0x070c1a), water: hex(0x0a1a40),
			foliage: hex(0x0a1826), trunk: hex(0x080c14), accent: hex(0x8a7ae0),
			window: hex(0xffc860), silhouette: hex(0x04060e),
		}
	case skyStorm:
		return palette{
			skyTop: hex(0x262c36), skyMid: hex(0x4a5462), skyLow: hex(0x8a949c),
			sun: hex(0xe8eef0), sunGlow: hex(0xa0a8b0),
			cloud: hex(0x2e343e), cloudLit: hex(0x7a8490),
			far: hex(0x5a6470), mid: hex(0x3e4854), near: hex(0x283038),
			ground: hex(0x3a4a40), ground2: hex(0x1e2a24), water: hex(0x2a3a48),
			foliage: hex(0x1e3028), trunk: hex(0x1a1a1a), accent: hex(0xd0b04a),
			window: hex(0xffd890), silhouette: hex(0x101418),
		}
	case skyFog:
		return palette{
			skyTop: hex(0x8c9aa6), skyMid: hex(0xbcc6cc), skyLow: hex(0xe4e6e2),
			sun: hex(0xfffbf0), sunGlow: hex(0xf0e8d8),
			cloud: hex(0xc8ced2), cloudLit: hex(0xf4f4f0),
			far: hex(0xb4bcc4), mid: hex(0x8c98a2), near: hex(0x5a6872),
			ground: hex(0x8a9a8c), ground2: hex(0x4e5e54), water: hex(0x9aa8b0),
			foliage: hex(0x3e5248), trunk: hex(0x2e2e2e), accent: hex(0xe0a0a0),
			window: hex(0xffe8b0), silhouette: hex(0x2a3034),
		}
	default: // day
		return palette{
			skyTop: hex(0x1f5fc8), skyMid: hex(0x5ea0e8), skyLow: hex(0xd4ecf8),
			sun: hex(0xfffbe8), sunGlow: hex(0xfff0b0),
			cloud: hex(0xc8d8ec), cloudLit: hex(0xffffff),
			far: hex(0x8aa4c8), mid: hex(0x5a7aa0), near: hex(0x3a5a70),
			ground: hex(0x5a9a48), ground2: hex(0x2e6a2e), water: hex(0x1e6aa8),
			foliage: hex(0x1e5a2c), trunk: hex(0x4a3222), accent: hex(0xff4a6a),
			window: hex(0xfff0c0), silhouette: hex(0x1a2228),
		}
	}
}

// adjust applies the prompt's hue shift, tint, saturation and light to
// every colour of p. A colour word tints the land, the water and the
// horizon fully but the upper sky only a little: mixing, say, gold into a
// blue sky would only make it green.
func (p palette) adjust(s *scene) palette {
	f := func(c rgb, tintWeight float64) rgb {
		if s.hue != 0 {
			c = c.rotate(s.hue * min(1, 0.3+tintWeight)) // skies turn less
		}
		if a := s.tintAmt * tintWeight; a > 0 {
			c = c.mix(rgb{c.r * s.tint.r * 1.6, c.g * s.tint.g * 1.6, c.b * s.tint.b * 1.6}, a)
			c = c.mix(s.tint.scale(c.luma()*1.4), a*0.5)
		}
		c = c.saturate(s.sat).scale(s.light)
		return rgb{clamp01(c.r), clamp01(c.g), clamp01(c.b)}
	}
	return palette{
		skyTop: f(p.skyTop, 0.1), skyMid: f(p.skyMid, 0.2), skyLow: f(p.skyLow, 0.8),
		sun: f(p.sun, 0.4), sunGlow: f(p.sunGlow, 0.6), cloud: f(p.cloud, 0.3), cloudLit: f(p.cloudLit, 0.6),
		far: f(p.far, 0.6), mid: f(p.mid, 0.6), near: f(p.near, 0.6),
		ground: f(p.ground, 1), ground2: f(p.ground2, 1), water: f(p.water, 1), foliage: f(p.foliage, 0.5),
		trunk: f(p.trunk, 0.3), accent: f(p.accent, 1.2), window: f(p.window, 0.3), silhouette: f(p.silhouette, 0.3),
	}
}

// painting is the state of one rendering: the scene, its palette, the
// layout and the random source that fixes positions.
type painting struct {
	c       *canvas
	s       scene
	p       palette
	r       *rng
	seed    uint32
	u       float64 // pixels per unit: the short side / 512
	horizon float64 // y of the horizon
	sunX    float64
	sunY    float64
	sunR    float64
	lum     float64 // how bright the scene's light is: dims colours at night
	side    float64 // -1 or 1: which side foreground features lean to
	// land is where things stand: the y of the middle hills per column, or
	// below the canvas where there is only water.
	land []float64
	// nearGround is the outline of the nearest hills (nil over water).
	nearGround []float64
	// lavaX, lavaY and lavaH place the volcano's crater and its height.
	lavaX, lavaY, lavaH, lavaW float64
}

// render paints the whole scene into a new canvas: the target the
// diffusion loop refines toward.
func render(prompt string, seed int64, w, h int) *canvas {
	s := parsePrompt(prompt)
	pt := &painting{
		c:    newCanvas(w, h),
		s:    s,
		p:    basePalette(s.sky).adjust(&s),
		r:    newRNG(seed, 1),
		seed: uint32(seed) ^ uint32(seed>>32),
		u:    float64(min(w, h)) / 512,
		land: make([]float64, w),
	}
	pt.lum = math.Max(0.3, math.Min(1, pt.p.skyLow.luma()*1.2))
	H, W := float64(h), float64(w)
	pt.horizon = H * pt.r.between(0.56, 0.68)
	if s.water && !s.mountains && !s.city {
		pt.horizon = H * pt.r.between(0.5, 0.6)
	}
	pt.side = 1
	if pt.r.chance(0.5) {
		pt.side = -1
	}
	pt.sunX = W * (0.5 - pt.side*pt.r.between(0.05, 0.25))
	switch s.sky {
	case skySunset, skyDawn:
		pt.sunY = pt.horizon - H*pt.r.between(0.07, 0.16)
		pt.sunR = 34 * pt.u
	case skyNight:
		pt.sunY = H * pt.r.between(0.14, 0.3)
		pt.sunR = 26 * pt.u
	default:
		pt.sunY = H * pt.r.between(0.12, 0.26)
		pt.sunR = 24 * pt.u
	}

	pt.sky()
	if s.aurora {
		pt.auroraBands()
	}
	if s.milkyWay {
		pt.milkyWayBand()
	}
	if s.stars {
		pt.starField()
	}
	if s.rainbow {
		pt.rainbowArc()
	}
	if s.sun || s.moon {
		pt.celestial()
	}
	if s.clouds > 0 {
		pt.cloudLayer()
	}
	if s.birds {
		pt.birdFlock()
	}
	pt.landscape()
	pt.foreground()
	pt.atmosphere()
	return pt.c
}

// sky paints the vertical gradient, with a faint mottling like a wash.
func (pt *painting) sky() {
	c, p := pt.c, pt.p
	for y := 0; y < c.h; y++ {
		t := clamp01(float64(y) / pt.horizon)
		var col rgb
		if t < 0.55 {
			col = p.skyTop.mix(p.skyMid, smooth(t/0.55))
		} else {
			col = p.skyMid.mix(p.skyLow, smooth((t-0.55)/0.45))
		}
		for x := 0; x < c.w; x++ {
			n := valueNoise(float64(x)/(90*pt.u), float64(y)/(40*pt.u), pt.seed+7) - 0.5
			c.blend(x, y, col.scale(1+n*0.08), 1)
		}
	}
	if pt.s.sky != skyNight {
		return
	}
	// A soft band of sky glow low over the horizon.
	for y := int(pt.horizon * 0.6); y < int(pt.horizon)+1 && y < c.h; y++ {
		k := smoothstep(pt.horizon*0.6, pt.horizon, float64(y))
		for x := 0; x < c.w; x++ {
			c.add(x, y, p.skyLow, 0.12*k)
		}
	}
}

func (pt *painting) starField() {
	c := pt.c
	n := int(float64(c.w*c.h) / 900)
	for range n {
		x := pt.r.float() * float64(c.w)
		y := pt.r.float() * pt.horizon
		b := pt.r.float()
		fade := 1 - smoothstep(pt.horizon*0.5, pt.horizon, y)
		b = b * b * b * fade
		col := hex(0xfff8e8).mix(hex(0xbcd0ff), pt.r.float())
		c.add(int(x), int(y), col, 0.3+0.9*b)
		if b > 0.55 {
			c.glow(x, y, 1.2*pt.u, col, 0.35*b)
		}
	}
}

// milkyWayBand paints a diagonal band of faint light, dust and dense stars.
func (pt *painting) milkyWayBand() {
	c := pt.c
	W := float64(c.w)
	// The band's centre line runs from (x0, 0) to (x1, horizon).
	x0, x1 := W*pt.r.between(0.1, 0.45), W*pt.r.between(0.55, 0.95)
	if pt.side < 0 {
		x0, x1 = W-x0, W-x1
	}
	dx, dy := x1-x0, pt.horizon
	l := math.Sqrt(dx*dx + dy*dy)
	nx, ny := dy/l, -dx/l // unit normal
	width := 60 * pt.u
	glowCol, dust := hex(0xd8d0ff), hex(0x1a1030)
	for y := 0; y < int(pt.horizon); y++ {
		for x := 0; x < c.w; x++ {
			d := ((float64(x)-x0)*nx + float64(y)*ny) / width
			k := 1 / (1 + d*d*d*d)
			if k < 0.02 {
				continue
			}
			n := fbm(float64(x)/(40*pt.u), float64(y)/(40*pt.u), 3, pt.seed+25)
			c.add(x, y, glowCol, 0.16*k*(0.4+n))
			if lane := fbm(float64(x)/(18*pt.u), float64(y)/(18*pt.u), 3, pt.seed+26); lane > 0.55 && math.Abs(d) < 0.5 {
				c.blend(x, y, dust, (lane-0.55)*1.2*k)
			}
		}
	}
	for range int(float64(c.w*c.h) / 300) {
		t := pt.r.float()
		off := (pt.r.float() + pt.r.float() - 1) * width
		x, y := x0+dx*t+nx*off, dy*t+ny*off
		c.add(int(x), int(y), hex(0xfff8f0), pt.r.between(0.15, 0.7))
	}
}

func (pt *painting) auroraBands() {
	c := pt.c
	base := pt.horizon * pt.r.between(0.4, 0.55)
	green, violet := hex(0x3aff9a), hex(0x9a5aff)
	for x := 0; x < c.w; x++ {
		fx := float64(x) / (120 * pt.u)
		center := base + (fbm1(fx*0.6, 3, pt.seed+21)-0.5)*pt.horizon*0.5
		curtain := 0.4 + 0.8*noise1(float64(x)/(9*pt.u), pt.seed+22)
		for y := 0; y < int(pt.horizon); y++ {
			d := (float64(y) - center) / (pt.horizon * 0.12)
			var k float64
			if d < 0 { // light streams upward, fading slowly
				k = 1 / (1 + d*d*0.35)
			} else {
				k = 1 / (1 + d*d*6)
			}
			k *= curtain
			col := green.mix(violet, clamp01(-d*0.35))
			c.add(x, y, col, 0.4*k)
		}
	}
}

func (pt *painting) rainbowArc() {
	c := pt.c
	cx := float64(c.w) * pt.r.between(0.35, 0.65)
	cy := pt.horizon + 40*pt.u
	R := float64(c.w) * pt.r.between(0.38, 0.5)
	band := 26 * pt.u
	for y := 0; y < int(pt.horizon); y++ {
		for x := 0; x < c.w; x++ {
			dx, dy := float64(x)-cx, float64(y)-cy
			d := (math.Sqrt(dx*dx+dy*dy) - R) / band
			if d < 0 || d > 1 {
				continue
			}
			edge := math.Min(d, 1-d) * 6
			c.blend(x, y, hsv(0.78*d, 0.7, 1), 0.22*clamp01(edge))
		}
	}
}

// celestial paints the sun or the moon with its halo.
func (pt *painting) celestial() {
	c, p := pt.c, pt.p
	if pt.s.moon && !pt.s.sun || pt.s.sky == skyNight {
		c.glow(pt.sunX, pt.sunY, pt.sunR*1.6, p.sunGlow, 0.45)
		c.ellipse(pt.sunX, pt.sunY, pt.sunR, pt.sunR, p.sun, 1)
		for range 5 { // craters
			a := pt.r.float() * 2 * math.Pi
			d := pt.r.between(0, 0.6) * pt.sunR
			r := pt.r.between(0.1, 0.25) * pt.sunR
			c.ellipse(pt.sunX+math.Cos(a)*d, pt.sunY+math.Sin(a)*d, r, r, p.sun.scale(0.86), 0.6)
		}
		return
	}
	strength := 0.9
	if pt.s.sky == skyStorm || pt.s.sky == skyFog {
		strength = 0.35
	}
	if pt.s.sky == skyDawn {
		strength = 0.7
	}
	c.ellipse(pt.sunX, pt.sunY, pt.sunR, pt.sunR, p.sun, strength)
	c.glow(pt.sunX, pt.sunY, pt.sunR*2.2, p.sunGlow, strength*0.55)
	c.glow(pt.sunX, pt.sunY, pt.sunR*0.8, p.sun, strength*0.5)
}

// cloudLayer paints soft clouds, lit from the sun's side.
func (pt *painting) cloudLayer() {
	c, p := pt.c, pt.p
	cover := pt.s.clouds
	thresh := 0.62 - 0.3*cover
	top := pt.horizon * 0.05
	for y := int(top); y < int(pt.horizon); y++ {
		fy := float64(y)
		band := smoothstep(top, pt.horizon*0.3, fy) * (1 - smoothstep(pt.horizon*0.8, pt.horizon, fy))
		if band <= 0 {
			continue
		}
		for x := 0; x < c.w; x++ {
			fx := float64(x)
			n := fbm(fx/(150*pt.u), fy/(45*pt.u), 4, pt.seed+31)
			d := smoothstep(thresh, thresh+0.22, n) * band
			if d <= 0.01 {
				continue
			}
			// The underside (lower n nearby below) gets the light at sunset.
			lit := clamp01(1 - math.Abs(fx-pt.sunX)/(float64(c.w)*0.8))
			below := fbm(fx/(150*pt.u), (fy+8*pt.u)/(45*pt.u), 2, pt.seed+31)
			rim := clamp01((n-below)*6) * 0.5
			col := p.cloud.mix(p.cloudLit, clamp01(0.25+0.6*lit*(1-n)+rim))
			c.blend(x, y, col, d*(0.55+0.4*cover))
		}
	}
}

func (pt *painting) birdFlock() {
	c := pt.c
	n := 3 + pt.r.intn(6)
	cx := float64(c.w) * pt.r.between(0.25, 0.75)
	cy := pt.horizon * pt.r.between(0.25, 0.55)
	col := pt.p.silhouette.mix(pt.p.skyMid, 0.2)
	for range n {
		x := cx + pt.r.between(-90, 90)*pt.u
		y := cy + pt.r.between(-40, 40)*pt.u
		s := pt.r.between(4, 9) * pt.u
		flap := pt.r.between(0.2, 0.7)
		c.line(x-s, y-s*flap, x, y, 1.4*pt.u, col, 0.9)
		c.line(x, y, x+s, y-s*flap, 1.4*pt.u, col, 0.9)
	}
}

// atmosphere adds fog, rain, snowfall and a vignette over everything.
func (pt *painting) atmosphere() {
	c, p, s := pt.c, pt.p, &pt.s
	if s.fog || s.sky == skyFog {
		fogCol := p.skyLow.mix(hex(0xffffff), 0.2)
		for y := 0; y < c.h; y++ {
			d := (float64(y) - pt.horizon) / (float64(c.h) * 0.18)
			k := 0.5 / (1 + d*d)
			for x := 0; x < c.w; x++ {
				n := fbm(float64(x)/(120*pt.u), float64(y)/(30*pt.u), 3, pt.seed+41)
				c.blend(x, y, fogCol, k*(0.4+0.8*n))
			}
		}
	}
	if s.rain {
		col := p.skyLow.mix(hex(0xffffff), 0.4)
		for range int(float64(c.w*c.h) / 700) {
			x := pt.r.float()*float64(c.w+100) - 50
			y := pt.r.float() * float64(c.h)
			l := pt.r.between(8, 18) * pt.u
			c.line(x, y, x-l*0.25, y+l, 0.8*pt.u, col, 0.25)
		}
	}
	if s.snow {
		for range int(float64(c.w*c.h) / 1400) {
			x := pt.r.float() * float64(c.w)
			y := pt.r.float() * float64(c.h)
			r := pt.r.between(0.6, 2.4) * pt.u
			c.ellipse(x, y, r, r, hex(0xffffff), pt.r.between(0.5, 0.9))
		}
	}
	// Vignette: darken toward the corners, as a lens or a painter would.
	cx, cy := float64(c.w)/2, float64(c.h)/2
	for y := 0; y < c.h; y++ {
		dy := (float64(y) - cy) / cy
		for x := 0; x < c.w; x++ {
			dx := (float64(x) - cx) / cx
			k := float32(1 - 0.28*smoothstep(0.35, 1.9, dx*dx+dy*dy))
			i := 3 * (y*c.w + x)
			c.pix[i] *= k
			c.pix[i+1] *= k
			c.pix[i+2] *= k
		}
	}
}

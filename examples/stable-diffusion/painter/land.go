package painter

import "math"

// landscape paints everything between the sky and the foreground:
// mountains, the city, then water (which mirrors them) or the ground.
func (pt *painting) landscape() {
	s := &pt.s
	if s.mountains || s.volcano {
		pt.mountainRange()
	}
	if s.city {
		pt.skyline()
	}
	if s.water {
		if s.forest || s.hills || !s.mountains && !s.city && !s.volcano {
			pt.farShore()
		}
		if s.island {
			pt.island()
		}
		pt.waterSurface()
		for x := range pt.land {
			pt.land[x] = float64(pt.c.h) + 1 // nothing to stand on (yet)
		}
	} else {
		pt.groundLayers()
	}
	if s.volcano {
		pt.lava()
	}
}

// ridge fills a mountain layer: top[x] down to the horizon, shaded by the
// slope toward the sun, with optional snow above snowline[x].
func (pt *painting) ridge(top []float64, col rgb, haze float64, snowline []float64) {
	c, p := pt.c, pt.p
	snowCol := hex(0xf4f6fa).mix(p.skyLow, 0.25)
	sunDir := 1.0
	if pt.sunX < float64(c.w)/2 {
		sunDir = -1
	}
	bottom := pt.horizon + 2
	for x := 0; x < c.w; x++ {
		slope := (top[min(x+2, c.w-1)] - top[max(x-2, 0)]) / (4 * pt.u)
		lit := clamp01(0.5 + slope*sunDir*0.9)
		for y := max(0, int(math.Floor(top[x]))); y < int(bottom) && y < c.h; y++ {
			fy := float64(y)
			cov := clamp01(fy + 1 - top[x])
			// The sunlit and shaded faces fade out below the ridge.
			l := lerp(lit, 0.45, smoothstep(top[x], top[x]+0.5*(bottom-top[x]), fy))
			strata := valueNoise(float64(x)/(40*pt.u), fy/(3*pt.u), pt.seed+51) - 0.5
			rc := col.scale((0.8 + 0.4*l) * (1 + strata*0.1))
			if snowline != nil && fy < snowline[x] {
				rc = snowCol.scale(0.78 + 0.3*l)
			}
			mist := smoothstep(top[x], bottom, fy) * 0.45
			c.blend(x, y, rc.mix(p.skyLow, clamp01(haze+mist*(1-haze))), cov)
		}
	}
}

func (pt *painting) mountainRange() {
	c, p, s := pt.c, pt.p, &pt.s
	H := float64(c.h)
	layers := 2 + pt.r.intn(2)
	cols := []rgb{p.far, p.mid, p.near}
	hazes := []float64{0.5, 0.28, 0.1}
	amps := []float64{0.42, 0.3, 0.18}
	top := make([]float64, c.w)
	snow := make([]float64, c.w)
	for i := range layers {
		li := i + 3 - layers // the nearest layer always uses the near colour
		amp := H * amps[li] * pt.r.between(0.75, 1.15)
		if s.water && !s.mountains {
			amp *= 0.6
		}
		scale := pt.r.between(200, 320) * pt.u / (1 + 0.6*float64(li))
		off := pt.r.between(0, 100)
		seed := pt.seed + 61 + uint32(i)*7
		snowy := s.snow || (li == 0 && s.sky != skyNight && pt.r.chance(0.5))
		// Peaks are cones of random height and steepness; the ridge is
		// their upper envelope, roughened with noise.
		type peak struct{ x, h, slope float64 }
		peaks := make([]peak, 3+pt.r.intn(4))
		for k := range peaks {
			peaks[k] = peak{
				x:     pt.r.between(-0.1, 1.1) * float64(c.w),
				h:     pt.r.between(0.45, 1),
				slope: pt.r.between(0.6, 1.3) / (scale * 0.9),
			}
		}
		peaks[0].h = 1 // the tallest reaches amp
		for x := range c.w {
			fx, h := float64(x), 0.08
			for _, pk := range peaks {
				h = math.Max(h, pk.h-math.Abs(fx-pk.x)*pk.slope)
			}
			h += (fbm1(fx/(scale*0.15)+off, 4, seed) - 0.5) * 0.22
			top[x] = pt.horizon - amp*clamp01(h)
			snow[x] = pt.horizon - amp*(0.6+0.1*noise1(fx/(12*pt.u), seed+3))
		}
		if s.volcano && i == layers-1 {
			pt.volcanoCone(top, amp*1.6)
		}
		if snowy {
			pt.ridge(top, cols[li], hazes[li], snow)
		} else {
			pt.ridge(top, cols[li], hazes[li], nil)
		}
	}
}

// volcanoCone raises a cone into top and lights its crater.
func (pt *painting) volcanoCone(top []float64, height float64) {
	c := pt.c
	cx := float64(c.w) * (0.5 + pt.side*pt.r.between(0.05, 0.18))
	half := float64(c.w) * 0.42
	crater := 22 * pt.u
	peak := pt.horizon - height
	for x := range c.w {
		d := math.Abs(float64(x) - cx)
		y := peak + (height)*clamp01((d-crater)/half)*(0.6+0.4*clamp01((d-crater)/half))
		if d < crater {
			y = peak + 4*pt.u*(1-d/crater)
		}
		top[x] = math.Min(top[x], y)
	}
	c.glow(cx, peak, 70*pt.u, hex(0xff4a10), 0.3)
	smoke := hex(0x2a2426).mix(pt.p.skyMid, 0.2)
	for i := range 14 { // a plume of overlapping puffs, drifting with the wind
		f := float64(i) / 13
		r := (14 + 40*f) * pt.u * pt.r.between(0.8, 1.2)
		px := cx + pt.side*f*f*90*pt.u + pt.r.between(-10, 10)*pt.u
		py := peak - 10*pt.u - f*pt.horizon*0.55
		c.ellipse(px, py, r*1.2, r, smoke, 0.22)
	}
	pt.lavaX, pt.lavaY, pt.lavaH, pt.lavaW = cx, peak, height, crater+half
}

// lava draws glowing streams down the volcano cone.
func (pt *painting) lava() {
	c := pt.c
	lava, hot := hex(0xff4a10), hex(0xffd040)
	for range 5 {
		x, y := pt.lavaX, pt.lavaY+3*pt.u
		dir := pt.r.between(-0.75, 0.75) // the share of the way to the cone's foot
		reach := pt.r.between(0.4, 0.9)
		for j := 1; j <= 30; j++ {
			f := float64(j) / 30 * reach
			ny := pt.lavaY + 3*pt.u + pt.lavaH*f
			nx := pt.lavaX + dir*pt.lavaW*f + (noise1(f*8, pt.seed+uint32(j))-0.5)*6*pt.u
			c.line(x, y, nx, ny, (3.5-2*f)*pt.u, lava.mix(hot, (1-f)*0.6), 0.9*(1-f*0.5))
			x, y = nx, ny
		}
	}
	c.glow(pt.lavaX, pt.lavaY, 12*pt.u, hot, 0.8)
	for range 40 { // embers
		ex := pt.lavaX + pt.r.between(-40, 40)*pt.u
		ey := pt.lavaY - pt.r.between(5, 90)*pt.u
		c.glow(ex, ey, 0.9*pt.u, hot, pt.r.between(0.2, 0.7))
	}
}

// skyline paints two rows of buildings on the horizon, with lit windows.
func (pt *painting) skyline() {
	c, p := pt.c, pt.p
	var litP float64 // share of lit windows
	switch pt.s.sky {
	case skyNight:
		litP = 0.45
	case skySunset, skyStorm:
		litP = 0.28
	case skyFog, skyDawn:
		litP = 0.12
	}
	for row := range 2 {
		col := p.far.mix(p.skyLow, 0.35)
		maxH := 110.0
		if row == 1 {
			col = p.near.mix(p.silhouette, 0.5)
			maxH = 75
		}
		for x := -pt.r.between(0, 30) * pt.u; x < float64(c.w); {
			bw := pt.r.between(16, 46) * pt.u
			bh := pt.r.between(18, maxH) * pt.u
			if pt.r.chance(0.12) {
				bh *= 1.8 // a tower
			}
			top := pt.horizon - bh
			c.rect(x, top, x+bw-2*pt.u, pt.horizon+2, col, 1)
			if pt.r.chance(0.3) { // a spire or a stepped roof
				c.rect(x+bw*0.3, top-bh*0.12, x+bw*0.6, top+1, col, 1)
			}
			pt.windows(x, top, bw-2*pt.u, bh, litP, row)
			x += bw + pt.r.between(-4, 6)*pt.u
		}
	}
}

func (pt *painting) windows(x, top, bw, bh, litP float64, row int) {
	c, p := pt.c, pt.p
	cell := 6 * pt.u
	for wy := top + cell; wy < pt.horizon-cell; wy += cell * 1.4 {
		for wx := x + cell*0.6; wx < x+bw-cell; wx += cell {
			if litP > 0 && pt.r.chance(litP) {
				c.rect(wx, wy, wx+cell*0.55, wy+cell*0.7, p.window.scale(0.8+0.2*float64(row)), 0.9)
			} else if litP == 0 && pt.r.chance(0.5) {
				c.rect(wx, wy, wx+cell*0.55, wy+cell*0.7, p.skyLow, 0.18)
			}
		}
	}
}

// farShore paints a low strip of land with tiny trees along the horizon.
func (pt *painting) farShore() {
	c, p := pt.c, pt.p
	top := make([]float64, c.w)
	for x := range c.w {
		top[x] = pt.horizon - (3+9*fbm1(float64(x)/(60*pt.u), 3, pt.seed+71))*pt.u
	}
	landCol := p.near.mix(p.skyLow, 0.35)
	c.fillBelow(top, landCol, landCol, pt.horizon, 1)
	if !pt.s.forest && !pt.r.chance(0.5) {
		return
	}
	treeCol := p.foliage.mix(p.skyLow, 0.3)
	for x := 0.0; x < float64(c.w); x += pt.r.between(3, 9) * pt.u {
		h := pt.r.between(8, 20) * pt.u
		base := top[min(int(x), c.w-1)] + 2*pt.u
		c.triangle(x, base-h, x-h*0.28, x+h*0.28, base, treeCol, 1)
	}
}

func (pt *painting) island() {
	c, p := pt.c, pt.p
	cx := float64(c.w) * (0.5 + pt.side*pt.r.between(0.1, 0.25))
	half := pt.r.between(60, 110) * pt.u
	top := make([]float64, c.w)
	for x := range c.w {
		d := (float64(x) - cx) / half
		top[x] = pt.horizon + 2 - 18*pt.u*clamp01(1-d*d)
	}
	c.fillBelow(top, p.near.mix(p.skyLow, 0.2), p.near, pt.horizon, 1)
	for i := range 2 + pt.r.intn(2) {
		x := cx + (float64(i)-1)*half*0.4 + pt.r.between(-8, 8)*pt.u
		pt.palm(x, top[clamp(int(x), 0, c.w-1)]+2*pt.u, pt.r.between(50, 75)*pt.u, 0.75)
	}
}

// waterSurface mirrors the scene above the horizon into rippling water.
func (pt *painting) waterSurface() {
	c, p := pt.c, pt.p
	H := float64(c.h)
	hz := int(math.Ceil(pt.horizon))
	sunVisible := pt.s.sun || pt.s.moon || pt.s.sky == skyNight
	for y := hz; y < c.h; y++ {
		fy := float64(y)
		t := (fy - pt.horizon) / (H - pt.horizon)
		amp := (1.5 + 12*t) * pt.u
		waveY := (0.8 + 7*t) * pt.u
		for x := 0; x < c.w; x++ {
			fx := float64(x)
			xo := (valueNoise(fx/((30+50*t)*pt.u), fy/waveY, pt.seed+81) - 0.5) * 2 * amp
			// Waves break the mirror image up vertically too.
			jy := (valueNoise(fx/((12+30*t)*pt.u), fy/waveY, pt.seed+83) - 0.5) * (3 + 40*t) * pt.u
			srcY := clamp(int(pt.horizon-(fy-pt.horizon)-1+jy), 0, int(pt.horizon)-1)
			refl := c.at(int(fx+xo), srcY).scale(0.82)
			col := refl.mix(p.water, 0.25+0.5*t)
			hl := valueNoise(fx/((14+50*t)*pt.u), fy/waveY, pt.seed+82)
			if hl > 0.7 {
				col = col.mix(p.skyLow, (hl-0.7)*1.4)
			}
			if sunVisible {
				spread := pt.sunR * (1.2 + 4*t)
				if d := math.Abs(fx - pt.sunX); d < spread && hl > 0.55 {
					col = col.mix(p.sun, (hl-0.55)*2.2*(1-d/spread))
				}
			}
			c.blend(x, y, col, 1)
		}
	}
	c.rect(0, pt.horizon-0.5*pt.u, float64(c.w), pt.horizon+0.7*pt.u, p.skyLow, 0.35)
}

// groundLayers paints rolling hills, dunes or snowfields from the horizon
// down, and records the nearest layer's outline in pt.land.
func (pt *painting) groundLayers() {
	c, p, s := pt.c, pt.p, &pt.s
	H := float64(c.h)
	far, near := p.ground.mix(p.skyLow, 0.3), p.ground2
	switch {
	case s.desert:
		far, near = hex(0xe8b878).mix(p.skyLow, 0.3), hex(0xc07838)
		far, near = far.mix(p.ground, 0.15).scale(pt.lum), near.mix(p.ground2, 0.25).scale(pt.lum)
	case s.snow:
		far = hex(0xeef2f8).mix(p.skyLow, 0.3).scale(pt.lum)
		near = hex(0xb4c4dc).mix(p.skyMid, 0.25).scale(pt.lum)
	case s.autumn:
		near = near.mix(hex(0x8a5a20).scale(pt.lum), 0.5)
	}
	sunDir := 1.0
	if pt.sunX < float64(c.w)/2 {
		sunDir = -1
	}
	top := make([]float64, c.w)
	for i := range 3 {
		t := float64(i) / 2
		base := pt.horizon + (H-pt.horizon)*[]float64{0, 0.22, 0.5}[i]
		amp := (10 + 22*t) * pt.u
		if s.desert {
			amp *= 1.6
		}
		f1 := pt.r.between(0.004, 0.009) / pt.u
		ph := pt.r.between(0, 6.28)
		rough := 0.5
		if s.desert {
			rough = 0.1 // dunes are smooth
		}
		for x := range c.w {
			fx := float64(x)
			top[x] = base - amp*(0.5+0.5*math.Sin(fx*f1+ph)) - amp*0.3*math.Sin(fx*f1*2.3+ph*1.7) -
				amp*rough*(fbm1(fx/(70*pt.u), 3, pt.seed+91+uint32(i))-0.5)
		}
		texX, texY := 2.5, 7.0 // grass: upright blades
		if s.desert || s.snow {
			texX, texY = 30, 2.5 // ripples and drifts
		}
		col := far.mix(near, t)
		for x := range c.w {
			slope := (top[min(x+1, c.w-1)] - top[max(x-1, 0)]) / (2 * pt.u)
			shade := 0.85 + 0.35*clamp01(0.5+slope*sunDir*(1+2*b2f(s.desert)))
			t0 := top[x]
			for y := max(0, int(math.Floor(t0))); y < c.h; y++ {
				fy := float64(y)
				g := smoothstep(t0, t0+(H-t0)*0.8, fy)
				sh := lerp(shade, 1, smoothstep(t0, t0+(25+50*t)*pt.u, fy))
				tex := valueNoise(float64(x)/(texX*pt.u), fy/(texY*pt.u), pt.seed+95) - 0.5
				cc := col.scale(sh * (1 - 0.25*g) * (1 + tex*0.12))
				c.blend(x, y, cc, clamp01(fy+1-t0))
			}
		}
		if i == 1 {
			copy(pt.land, top) // trees stand on the middle hills
		}
	}
	pt.nearGround = append(pt.nearGround[:0], top...)
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func clamp(v, lo, hi int) int { return max(lo, min(hi, v)) }

package painter

import (
	"cmp"
	"math"
	"slices"
)

// foreground paints what stands in front of the landscape, back to front.
func (pt *painting) foreground() {
	s := &pt.s
	campfire := s.fire && !s.volcano
	if s.water {
		switch {
		case s.beach:
			pt.beach()
		case s.flowers || s.cat || campfire || s.fireflies:
			pt.bank()
		}
	}
	if s.boat {
		pt.boat()
	}
	if s.lighthouse {
		pt.lighthouse()
	}
	dry := s.water || s.desert
	if s.forest || s.palms || !dry && (s.hills || s.snow && pt.r.chance(0.6) || s.mountains && pt.r.chance(0.4)) {
		pt.trees()
	}
	if s.flowers {
		pt.flowerBed()
	}
	if campfire {
		pt.campfire()
	}
	if s.cat {
		pt.cat()
	}
	if s.fireflies {
		pt.fireflyGlow()
	}
}

// groundAt is the y where something at column x stands in the foreground.
func (pt *painting) groundAt(x float64, depth float64) float64 {
	ix := clamp(int(x), 0, pt.c.w-1)
	H := float64(pt.c.h)
	top := H
	if pt.nearGround != nil {
		top = pt.nearGround[ix]
	} else if pt.land[ix] < H {
		top = pt.land[ix]
	}
	return top + (H-top)*depth
}

func (pt *painting) beach() {
	c, p := pt.c, pt.p
	W, H := float64(c.w), float64(c.h)
	sand := hex(0xe6c690).mix(p.skyLow, 0.25).mix(p.ground, 0.1).scale(pt.lum)
	top := make([]float64, c.w)
	for x := range c.w {
		q := float64(x) / W
		if pt.side < 0 {
			q = 1 - q
		}
		top[x] = H*(0.97-0.2*q) + (fbm1(float64(x)/(50*pt.u), 3, pt.seed+101)-0.5)*10*pt.u
	}
	c.fillBelow(top, sand.scale(0.8), sand, H, 1)
	foam := hex(0xffffff).mix(p.skyLow, 0.3)
	for x := range c.w {
		n := valueNoise(float64(x)/(8*pt.u), 3, pt.seed+102)
		c.span(int(top[x]), float64(x), float64(x+1), foam, 0.4+0.5*n)
		c.span(int(top[x]+pt.u), float64(x), float64(x+1), foam, 0.3*n)
		pt.land[x] = top[x] + 6*pt.u
	}
}

// bank is a grassy rise in the foreground, in front of water.
func (pt *painting) bank() {
	c, p := pt.c, pt.p
	H := float64(c.h)
	top := make([]float64, c.w)
	ph := pt.r.between(0, 6.28)
	for x := range c.w {
		top[x] = H*0.82 + 10*pt.u*math.Sin(float64(x)/(90*pt.u)+ph) +
			(fbm1(float64(x)/(30*pt.u), 3, pt.seed+111)-0.5)*8*pt.u
	}
	c.fillBelow(top, p.ground2, p.ground2.scale(0.6), H, 1)
	copy(pt.land, top)
	pt.nearGround = top
}

func (pt *painting) trees() {
	c, s := pt.c, &pt.s
	W, H := float64(c.w), float64(c.h)
	kind := pt.treeKind()
	// A band of small trees on the middle hills, clustered like woods.
	if pt.nearGround != nil && !s.water {
		for x := -10 * pt.u; x < W+10*pt.u; x += pt.r.between(5, 12) * pt.u {
			if !s.forest && fbm1(x/(80*pt.u), 2, pt.seed+121) < 0.55 {
				continue
			}
			base := pt.land[clamp(int(x), 0, c.w-1)] + pt.r.between(2, 10)*pt.u
			pt.tree(kind, x, base, pt.r.between(20, 44)*pt.u, 0.4)
		}
	}
	// A forest also covers the nearest hills, with clearings.
	if s.forest && pt.nearGround != nil && !s.water {
		for x := -10 * pt.u; x < W+10*pt.u; x += pt.r.between(12, 26) * pt.u {
			if fbm1(x/(60*pt.u), 2, pt.seed+122) < 0.4 {
				continue
			}
			base := pt.nearGround[clamp(int(x), 0, c.w-1)] + pt.r.between(4, 16)*pt.u
			pt.tree(kind, x, base, pt.r.between(45, 85)*pt.u, 0.15)
		}
	}
	// A few large trees at one side, in front.
	n := 1 + pt.r.intn(3)
	if s.forest {
		n++
	}
	for i := range n {
		x := W*(0.5+pt.side*0.42) - pt.side*float64(i)*pt.r.between(30, 55)*pt.u
		base := pt.groundAt(x, pt.r.between(0.15, 0.4))
		if base >= H {
			continue // nothing to stand on
		}
		pt.tree(kind, x, base, pt.r.between(110, 180)*pt.u, 0)
	}
}

type treeKind int

const (
	pine treeKind = iota
	round
	palmTree
)

func (pt *painting) treeKind() treeKind {
	switch s := &pt.s; {
	case s.palms || s.desert:
		return palmTree
	case s.autumn || s.blossom || s.hills && !s.snow && !s.forest:
		return round
	default:
		return pine
	}
}

// tree draws one tree standing at (x, base), h tall; haze blends it into the
// sky colour for distance.
func (pt *painting) tree(k treeKind, x, base, h, haze float64) {
	switch k {
	case palmTree:
		pt.palm(x, base, h, haze)
	case round:
		pt.roundTree(x, base, h, haze)
	default:
		pt.pineTree(x, base, h, haze)
	}
}

func (pt *painting) pineTree(x, base, h, haze float64) {
	c, p := pt.c, pt.p
	col := p.foliage.scale(pt.r.between(0.8, 1.15)).mix(p.skyLow, haze*0.6)
	lit := col.mix(p.sunGlow, 0.25*pt.lum)
	c.rect(x-h*0.022, base-h*0.15, x+h*0.022, base, p.trunk.mix(p.skyLow, haze*0.6), 1)
	for i := range 5 {
		w := h * (0.21 - 0.033*float64(i))
		bot := base - h*0.08 - h*0.17*float64(i)
		top := bot - h*0.3
		c.triangle(x, top, x-w, x+w, bot, col, 1)
		if pt.sunX > x {
			c.triangle(x, top, x, x+w, bot, lit, 0.4)
		} else {
			c.triangle(x, top, x-w, x, bot, lit, 0.4)
		}
		if pt.s.snow {
			c.triangle(x, top, x-w*0.4, x+w*0.4, top+h*0.12, hex(0xf0f4fa).scale(pt.lum), 0.85)
		}
	}
}

func (pt *painting) roundTree(x, base, h, haze float64) {
	c, p, s := pt.c, pt.p, &pt.s
	trunk := p.trunk.mix(p.skyLow, haze*0.6)
	c.line(x, base, x, base-h*0.55, h*0.045, trunk, 1)
	c.line(x, base-h*0.35, x+h*0.12, base-h*0.6, h*0.025, trunk, 1)
	c.line(x, base-h*0.4, x-h*0.1, base-h*0.62, h*0.025, trunk, 1)
	leaf := p.foliage
	switch {
	case s.blossom:
		leaf = hex(0xf7a8c8).mix(p.skyLow, 0.15).scale(pt.lum)
	case s.autumn:
		leaf = []rgb{hex(0xd8641c), hex(0xc8321e), hex(0xe8a02a)}[pt.r.intn(3)].scale(pt.lum)
	}
	leaf = leaf.mix(p.skyLow, haze*0.6)
	cy := base - h*0.7
	for i := range 18 {
		a := float64(i) * 2.4
		d := h * 0.2 * math.Sqrt(pt.r.float())
		r := h * pt.r.between(0.09, 0.15)
		ex, ey := x+math.Cos(a)*d*1.3, cy+math.Sin(a)*d
		// Blobs toward the sun and the top are lighter.
		lit := clamp01(0.5 + (ex-x)/(h*0.5)*sign(pt.sunX-x) - (ey-cy)/(h*0.6))
		c.ellipse(ex, ey, r*1.15, r, leaf.scale(0.7+0.45*lit).rotate(pt.r.between(-0.02, 0.02)), 1)
	}
}

func sign(v float64) float64 {
	if v < 0 {
		return -1
	}
	return 1
}

// palm draws a leaning palm: a curved trunk and drooping fronds.
func (pt *painting) palm(x, base, h, haze float64) {
	c, p := pt.c, pt.p
	trunk := p.trunk.mix(p.skyLow, haze*0.5)
	leaf := p.foliage.mix(p.skyLow, haze*0.5)
	lean := pt.r.between(0.1, 0.3) * -pt.side
	px, py := x, base
	seg := 10
	for i := 1; i <= seg; i++ {
		t := float64(i) / float64(seg)
		nx := x + lean*h*t*t
		ny := base - h*t
		c.line(px, py, nx, ny, h*(0.075-0.03*t), trunk, 1)
		px, py = nx, ny
	}
	for f := range 9 {
		a := -math.Pi/2 + (float64(f)-4)*0.4 + pt.r.between(-0.1, 0.1)
		fx, fy := px, py
		l := h * pt.r.between(0.36, 0.48)
		bend := math.Copysign(1.2, math.Cos(a)+0.01*pt.side)
		for j := range 10 {
			t := float64(j+1) / 10
			dir := a + bend*t*t
			nx, ny := fx+math.Cos(dir)*l/10, fy+math.Sin(dir)*l/10
			c.line(fx, fy, nx, ny, h*0.03*(1-t*0.6), leaf, 1)
			ll := h * 0.08 * (1 - 0.7*t) // leaflets hang from the spine
			for _, side := range [2]float64{-1, 1} {
				la := dir + side*1.1
				c.line(nx, ny, nx+math.Cos(la)*ll, ny+math.Sin(la)*ll+ll*0.5, h*0.018, leaf, 1)
			}
			fx, fy = nx, ny
		}
	}
}

func (pt *painting) lighthouse() {
	c, p, s := pt.c, pt.p, &pt.s
	W, H := float64(c.w), float64(c.h)
	cx := W * (0.5 + pt.side*0.3)
	edge := cx - pt.side*60*pt.u
	baseY := pt.horizon + (H-pt.horizon)*0.3
	top := make([]float64, c.w)
	for x := range c.w {
		d := (float64(x) - edge) * pt.side // > 0 on the cliff
		rock := (fbm1(float64(x)/(25*pt.u), 3, pt.seed+131) - 0.5) * 14 * pt.u
		top[x] = H + 1
		if d > -40*pt.u {
			fall := smoothstep(0, -40*pt.u, d) // the cliff face drops to the sea
			top[x] = baseY - 14*pt.u*smoothstep(0, 60*pt.u, d) + rock*(1-fall) + fall*(H-baseY)
		}
	}
	rockCol := p.silhouette.mix(p.near, 0.5)
	c.fillBelow(top, rockCol.mix(p.ground2, 0.5), rockCol.scale(0.7), H, 1)
	for x := range c.w {
		if top[x] < H {
			pt.land[x] = top[x]
		}
	}
	ix := clamp(int(cx), 0, c.w-1)
	foot := top[ix] + 4*pt.u
	tall := H * 0.36
	topY := foot - tall
	white, red := hex(0xf2efe6).mix(p.skyLow, 0.25), hex(0xc8322c).mix(p.skyLow, 0.15)
	light := pt.lum
	for y := int(topY); y < int(foot); y++ {
		t := (float64(y) - topY) / tall
		half := (9 + 6*t) * pt.u
		col := white
		if int(t*5)%2 == 1 {
			col = red
		}
		col = col.scale(light)
		c.span(y, cx-half, cx+half, col, 1)
		shadow := sign(cx - pt.sunX)
		c.span(y, math.Min(cx, cx+shadow*half), math.Max(cx, cx+shadow*half), p.silhouette, 0.35)
	}
	dark := p.silhouette.mix(p.near, 0.3)
	c.rect(cx-13*pt.u, topY-4*pt.u, cx+13*pt.u, topY, dark, 1)
	lampY := topY - 12*pt.u
	c.rect(cx-7*pt.u, topY-19*pt.u, cx+7*pt.u, topY-4*pt.u, p.window, 1)
	c.triangle(cx, topY-30*pt.u, cx-10*pt.u, cx+10*pt.u, topY-18*pt.u, dark, 1)
	if s.sky == skyDay {
		return
	}
	c.glow(cx, lampY, 8*pt.u, p.window, 0.9)
	// The beam sweeps out over the sea.
	dir := -pt.side
	length := W * 0.9
	for x := 0; x < c.w; x++ {
		d := (float64(x) - cx) * dir
		if d < 0 || d > length {
			continue
		}
		hh := 4*pt.u + d*0.09
		mid := lampY + d*0.04
		fade := 1 - d/length
		for y := max(0, int(mid-hh)); y < min(c.h, int(mid+hh)+1); y++ {
			e := 1 - math.Abs(float64(y)-mid)/hh
			c.add(x, y, p.window, 0.4*fade*fade*smoothstep(0, 0.6, e))
		}
	}
}

func (pt *painting) boat() {
	c, p := pt.c, pt.p
	W, H := float64(c.w), float64(c.h)
	t := pt.r.between(0.1, 0.35)
	x := W * (0.5 - pt.side*pt.r.between(0.05, 0.25))
	y := pt.horizon + (H-pt.horizon)*t
	k := (0.7 + 2.2*t) * pt.u
	L, hull := 56*k, 9*k
	hullCol := p.silhouette.mix(p.near, 0.4)
	for yy := int(y - hull); yy < int(y); yy++ {
		f := (float64(yy) - (y - hull)) / hull
		c.span(yy, x-L/2+f*L*0.12, x+L/2-f*L*0.2, hullCol, 1)
	}
	sail := hex(0xf4efe4).mix(p.skyLow, 0.35).scale(pt.lum)
	if pt.r.chance(0.4) || pt.s.tintAmt > 0 { // "a red sailboat"
		sail = p.accent
	}
	mast := x - L*0.05
	top := y - hull - 58*k
	c.line(mast, y-hull, mast, top, 1.6*k, hullCol, 1)
	for yy := int(top); yy < int(y-hull-2*k); yy++ {
		f := (float64(yy) - top) / (y - hull - top)
		c.span(yy, mast-f*L*0.42, mast-1.2*k, sail, 1)
		c.span(yy, mast+1.2*k, mast+f*L*0.3, sail.scale(0.88), 1)
	}
	// A dim, broken reflection.
	for yy := int(y); yy < int(y+hull*3) && yy < c.h; yy++ {
		f := (float64(yy) - y) / (hull * 3)
		w := L * 0.3 * (1 - f)
		if yy%3 != 0 {
			c.span(yy, mast-w, mast+w*0.5, sail, 0.2*(1-f))
		}
	}
}

type flower struct{ x, y float64 }

func (pt *painting) flowerBed() {
	c, p := pt.c, pt.p
	W, H := float64(c.w), float64(c.h)
	n := int(140 * W * H / (512 * 512))
	fl := make([]flower, 0, n)
	for range n {
		x := pt.r.float() * W
		y := pt.groundAt(x, pt.r.between(0.05, 1))
		if y < H {
			fl = append(fl, flower{x, y})
		}
	}
	slices.SortFunc(fl, func(a, b flower) int { // far ones first
		return cmp.Or(cmp.Compare(a.y, b.y), cmp.Compare(a.x, b.x))
	})
	top := pt.groundAt(W/2, 0)
	stem := p.foliage.mix(p.ground2, 0.4)
	for _, f := range fl {
		depth := clamp01((f.y - top) / (H - top))
		k := (2.5 + 9*depth) * pt.u
		c.line(f.x, f.y, f.x+k*0.2, f.y+k*2.2, 0.25*k, stem, 1)
		col := p.accent.rotate(pt.r.between(-0.08, 0.08))
		switch pt.r.intn(5) {
		case 0:
			col = hex(0xfff4e8).mix(p.skyLow, 0.3).scale(pt.lum)
		case 1:
			col = hex(0xffc83a).scale(pt.lum)
		}
		rot := pt.r.float() * math.Pi
		for i := range 5 {
			a := rot + float64(i)*2*math.Pi/5
			c.ellipse(f.x+math.Cos(a)*k*0.55, f.y+math.Sin(a)*k*0.45, k*0.42, k*0.36, col, 1)
		}
		c.ellipse(f.x, f.y, k*0.25, k*0.25, hex(0x6a3a10).mix(hex(0xffb020), 0.5), 1)
	}
}

func (pt *painting) campfire() {
	c, p := pt.c, pt.p
	W := float64(c.w)
	x := W * (0.5 - pt.side*0.16)
	y := pt.groundAt(x, 0.45)
	k := pt.u * 1.2
	c.glow(x, y-10*k, 70*k, hex(0xff7a20), 0.3)
	c.glow(x, y-10*k, 22*k, hex(0xffa040), 0.5)
	log := p.trunk.mix(hex(0x3a2010), 0.5)
	c.line(x-18*k, y, x+16*k, y-6*k, 5*k, log, 1)
	c.line(x-16*k, y-6*k, x+18*k, y, 5*k, log, 1)
	c.ellipse(x, y-14*k, 11*k, 20*k, hex(0xe83a10), 0.9)
	c.ellipse(x, y-11*k, 8*k, 14*k, hex(0xff8a1a), 0.95)
	c.ellipse(x, y-8*k, 4.5*k, 8*k, hex(0xffe060), 1)
	for range 30 {
		ex := x + pt.r.between(-20, 20)*k
		ey := y - pt.r.between(30, 120)*k
		c.glow(ex, ey, 0.8*k, hex(0xffa040), pt.r.between(0.2, 0.6))
	}
}

// cat is seen from behind, sitting and looking at the view.
func (pt *painting) cat() {
	c, p := pt.c, pt.p
	W, H := float64(c.w), float64(c.h)
	x := W * (0.5 + pt.side*0.14)
	gy := math.Min(pt.groundAt(x, 0.55), H-8*pt.u)
	S := H * 0.2
	draw := func(dx float64, col rgb) {
		c.ellipse(x+dx, gy-S*0.22, S*0.34, S*0.24, col, 1)
		c.ellipse(x+dx, gy-S*0.45, S*0.26, S*0.36, col, 1)
		c.ellipse(x+dx, gy-S*0.86, S*0.19, S*0.17, col, 1)
		c.triangle(x+dx-S*0.15, gy-S*1.1, x+dx-S*0.2, x+dx-S*0.04, gy-S*0.9, col, 1)
		c.triangle(x+dx+S*0.15, gy-S*1.1, x+dx+S*0.04, x+dx+S*0.2, gy-S*0.9, col, 1)
		px, py := x+dx+S*0.28, gy-S*0.04
		for i := 1; i <= 10; i++ {
			t := float64(i) / 10
			nx := x + dx + S*(0.28+0.3*t)
			ny := gy - S*0.04 - S*0.35*t*t*t
			c.line(px, py, nx, ny, S*0.07, col, 1)
			px, py = nx, ny
		}
	}
	rim := p.sunGlow.mix(p.skyLow, 0.5)
	draw(sign(pt.sunX-x)*1.8*pt.u, rim)
	draw(0, p.silhouette)
}

func (pt *painting) fireflyGlow() {
	c := pt.c
	for range 45 {
		x := pt.r.float() * float64(c.w)
		y := pt.horizon + pt.r.float()*(float64(c.h)-pt.horizon)
		c.glow(x, y, 1.6*pt.u, hex(0xd8ff6a), pt.r.between(0.3, 0.8))
	}
}

package painter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"strings"
	"testing"
)

func mustPaint(t testing.TB, p Params) *image.RGBA {
	t.Helper()
	img, err := Paint(p)
	if err != nil {
		t.Fatalf("Paint(%+v): %v", p, err)
	}
	return img
}

func encode(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// blockDistance compares two images of the same size as an 8x8 grid of
// mean colours: the mean over blocks of the distance between them, in 0..1.
func blockDistance(a, b *image.RGBA) float64 {
	const n = 8
	w, h := a.Rect.Dx(), a.Rect.Dy()
	var sum float64
	for by := range n {
		for bx := range n {
			var ma, mb [3]float64
			for y := by * h / n; y < (by+1)*h/n; y++ {
				for x := bx * w / n; x < (bx+1)*w/n; x++ {
					i := a.PixOffset(x, y)
					for c := range 3 {
						ma[c] += float64(a.Pix[i+c])
						mb[c] += float64(b.Pix[i+c])
					}
				}
			}
			cnt := float64(w/n*h/n) * 255
			d := 0.0
			for c := range 3 {
				d += (ma[c]/cnt - mb[c]/cnt) * (ma[c]/cnt - mb[c]/cnt)
			}
			sum += math.Sqrt(d)
		}
	}
	return sum / (n * n)
}

// meanAbsDiff is the mean absolute difference per channel, in 0..1.
func meanAbsDiff(a []float32, b []float32) float64 {
	var s float64
	for i := range a {
		s += math.Abs(float64(a[i] - b[i]))
	}
	return s / float64(len(a))
}

func TestDeterministic(t *testing.T) {
	p := Params{Prompt: "a lighthouse at sunset", Seed: 7, Width: 128, Height: 96}
	a, b := encode(t, mustPaint(t, p)), encode(t, mustPaint(t, p))
	if !bytes.Equal(a, b) {
		t.Fatal("the same Params gave different PNG bytes")
	}
	// No seed means the prompt's own seed.
	p.Seed = 0
	implicit := encode(t, mustPaint(t, p))
	p.Seed = PromptSeed(p.Prompt)
	if !bytes.Equal(implicit, encode(t, mustPaint(t, p))) {
		t.Error("Seed 0 did not paint the same as Seed = PromptSeed(prompt)")
	}
	p.Seed = 8
	if bytes.Equal(a, encode(t, mustPaint(t, p))) {
		t.Error("seeds 7 and 8 painted identical images")
	}
}

func TestPromptsLookDifferent(t *testing.T) {
	prompts := []string{
		"a lighthouse at sunset",
		"a cat watching the moon over the ocean",
		"snowy mountains at dawn",
		"a city skyline at night",
		"a field of flowers on a sunny day",
		"desert dunes at dusk",
		"a volcano erupting at night",
		"quantum teapot symphony",
	}
	imgs := make([]*image.RGBA, len(prompts))
	for i, pr := range prompts {
		imgs[i] = mustPaint(t, Params{Prompt: pr, Steps: 10, Width: 128, Height: 128})
	}
	for i := range prompts {
		for j := i + 1; j < len(prompts); j++ {
			if d := blockDistance(imgs[i], imgs[j]); d < 0.05 {
				t.Errorf("%q and %q look alike: block distance %.3f < 0.05", prompts[i], prompts[j], d)
			}
		}
	}
	// The same scene with another seed is recomposed, not just re-noised.
	a := mustPaint(t, Params{Prompt: "mountains by a lake", Seed: 1, Width: 128, Height: 128})
	b := mustPaint(t, Params{Prompt: "mountains by a lake", Seed: 2, Width: 128, Height: 128})
	if d := blockDistance(a, b); d < 0.02 {
		t.Errorf("seeds 1 and 2 of one prompt: block distance %.3f < 0.02", d)
	}
}

// TestStepsRefine checks that each step does work: more steps leave the
// image closer to the composition and less noisy.
func TestStepsRefine(t *testing.T) {
	const prompt, seed, w, h = "a sailboat on a lake at dawn", 3, 96, 96
	target := brushwork(render(prompt, seed, w, h), seed)
	prev := math.Inf(1)
	for _, steps := range []int{1, 2, 5, 15, 30, 60, 150} {
		img := mustPaint(t, Params{Prompt: prompt, Seed: seed, Steps: steps, Width: w, Height: h})
		got := make([]float32, 0, 3*w*h)
		for i := 0; i < len(img.Pix); i += 4 {
			got = append(got, float32(img.Pix[i])/255, float32(img.Pix[i+1])/255, float32(img.Pix[i+2])/255)
		}
		d := meanAbsDiff(got, target.pix)
		t.Logf("steps %3d: mean distance to the composition %.4f", steps, d)
		if d >= prev {
			t.Errorf("steps %d: distance %.4f did not fall below %.4f", steps, d, prev)
		}
		prev = d
	}
	if prev > 0.015 {
		t.Errorf("150 steps still %.4f from the composition, want < 0.015", prev)
	}
}

func TestSizes(t *testing.T) {
	for _, p := range []Params{
		{Prompt: "tiny", Width: 64, Height: 64, Steps: 1},
		{Prompt: "wide", Width: 320, Height: 64, Steps: 2},
		{Prompt: "tall", Width: 64, Height: 1024, Steps: 1},
	} {
		img := mustPaint(t, p)
		if img.Rect.Dx() != p.Width || img.Rect.Dy() != p.Height {
			t.Errorf("%+v painted %v", p, img.Rect)
		}
		for i := 3; i < len(img.Pix); i += 4 {
			if img.Pix[i] != 255 {
				t.Fatalf("%+v: pixel %d is not opaque", p, i/4)
			}
		}
	}
	img := mustPaint(t, Params{Prompt: "defaults", Steps: 1})
	if img.Rect.Dx() != DefaultWidth || img.Rect.Dy() != DefaultHeight {
		t.Errorf("default size %v, want %dx%d", img.Rect, DefaultWidth, DefaultHeight)
	}
}

func TestValidation(t *testing.T) {
	long := strings.Repeat("é", MaxPromptRunes+1)
	tests := []struct {
		p           Params
		field, want string
	}{
		{Params{}, "prompt", "required"},
		{Params{Prompt: "  \t"}, "prompt", "required"},
		{Params{Prompt: long}, "prompt", "at most 1000 characters, got 1001"},
		{Params{Prompt: "a\xffb"}, "prompt", "UTF-8"},
		{Params{Prompt: "x", Steps: -1}, "steps", "from 1 to 150, got -1"},
		{Params{Prompt: "x", Steps: 151}, "steps", "from 1 to 150, got 151"},
		{Params{Prompt: "x", Width: 32}, "width", "multiple of 8 from 64 to 1024, got 32"},
		{Params{Prompt: "x", Width: 2048}, "width", "got 2048"},
		{Params{Prompt: "x", Height: 100}, "height", "multiple of 8 from 64 to 1024, got 100"},
		{Params{Prompt: "x", Height: -8}, "height", "got -8"},
	}
	for _, tc := range tests {
		_, err := Paint(tc.p)
		var pe *ParamError
		if !errors.As(err, &pe) || pe.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Paint(%.40q...): %v, want a %s error containing %q", fmt.Sprint(tc.p), err, tc.field, tc.want)
		}
	}
	if _, err := Paint(Params{Prompt: strings.Repeat("é", MaxPromptRunes), Steps: 1, Width: 64, Height: 64}); err != nil {
		t.Errorf("a 1000-character prompt: %v", err)
	}
}

func TestPaintContextCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := PaintContext(ctx, Params{Prompt: "never"}); !errors.Is(err, context.Canceled) {
		t.Errorf("PaintContext with a cancelled context = %v, want context.Canceled", err)
	}
}

func TestParsePromptIsOrderIndependentOfMaps(t *testing.T) {
	// Known words set motifs; unknown words still change the scene.
	s := parsePrompt("a cat and a lighthouse at night")
	if !s.cat || !s.lighthouse || !s.water || s.sky != skyNight {
		t.Errorf("parsePrompt = %+v", s)
	}
	if a, b := parsePrompt("zorblax"), parsePrompt("quuxifer"); a == b {
		t.Error("two unknown words parsed to the same scene")
	}
}

func BenchmarkPaint(b *testing.B) {
	for _, bc := range []struct {
		name string
		p    Params
	}{
		{"512x512/steps=30", Params{Prompt: "a lighthouse at sunset", Seed: 7}},
		{"512x512/steps=1", Params{Prompt: "a lighthouse at sunset", Seed: 7, Steps: 1}},
		{"256x256/steps=30", Params{Prompt: "a lighthouse at sunset", Seed: 7, Width: 256, Height: 256}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Paint(bc.p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

package painter

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestWriteSamples writes PNGs of a few prompts into $PAINTER_SAMPLES, for
// people to look at; it is skipped when the variable is unset.
func TestWriteSamples(t *testing.T) {
	dir := os.Getenv("PAINTER_SAMPLES")
	if dir == "" {
		t.Skip("set PAINTER_SAMPLES to a folder to write sample images")
	}
	prompts := strings.Split(os.Getenv("PAINTER_PROMPTS"), "|")
	if len(prompts) == 1 && prompts[0] == "" {
		prompts = samplePrompts()
	}
	const cols, cell = 4, 256
	rows := (len(prompts) + cols - 1) / cols
	sheet := image.NewRGBA(image.Rect(0, 0, cols*cell, rows*cell))
	for i, prompt := range prompts {
		start := time.Now()
		img, err := Paint(Params{Prompt: prompt})
		if err != nil {
			t.Fatal(err)
		}
		ox, oy := i%cols*cell, i/cols*cell
		for y := range cell {
			for x := range cell {
				sheet.Set(ox+x, oy+y, img.At(x*img.Rect.Dx()/cell, y*img.Rect.Dy()/cell))
			}
		}
		name := strings.Map(func(r rune) rune {
			if r == ' ' {
				return '-'
			}
			return r
		}, prompt) + ".png"
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(f, img); err != nil {
			t.Fatal(err)
		}
		f.Close()
		t.Logf("%s: %s", name, time.Since(start))
	}
	f, err := os.Create(filepath.Join(dir, "contact-sheet.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, sheet); err != nil {
		t.Fatal(err)
	}
}

func samplePrompts() []string {
	return []string{
		"a lighthouse at sunset",
		"a cat watching the moon over the ocean",
		"snowy mountains at dawn",
		"a forest of pines under the northern lights",
		"a city skyline at night by the river",
		"a field of flowers on a sunny day",
		"a volcano erupting at night",
		"a sailboat on a misty lake",
		"a tropical island at sunset",
		"an autumn valley with a campfire",
		"quantum teapot symphony",
		"desert dunes at dusk",
	}
}

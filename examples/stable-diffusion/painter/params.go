package painter

import (
	"fmt"
	"hash/fnv"
	"strings"
	"unicode/utf8"
)

// Defaults and limits of Params.
const (
	DefaultSteps  = 30
	DefaultWidth  = 512
	DefaultHeight = 512

	MinSteps = 1
	MaxSteps = 150
	// Width and height must be multiples of SizeMultiple between MinSize and
	// MaxSize, as with Stable Diffusion's latent grid.
	MinSize      = 64
	MaxSize      = 1024
	SizeMultiple = 8
	// MaxPromptRunes bounds the prompt's length in characters.
	MaxPromptRunes = 1000
)

// Params describes one image. Zero fields take their defaults.
type Params struct {
	// Prompt says what to paint; required, at most 1000 characters.
	Prompt string
	// Seed fixes the composition (shapes, positions, noise). 0 means
	// "derive it from the prompt", so a prompt alone is reproducible.
	Seed int64
	// Steps is the number of refinement steps, 1..150; default 30. Cost
	// grows linearly with it; fewer steps leave more noise in the image.
	Steps int
	// Width and Height are the image size in pixels, multiples of 8 in
	// 64..1024; default 512x512.
	Width, Height int
}

// ParamError is a Params field that is out of range.
type ParamError struct {
	// Field names the request field at fault: prompt, seed, steps, width,
	// height, img_size, an unknown field's name, or "body" or "query" when
	// the request as a whole cannot be read.
	Field string
	// Msg says what is allowed.
	Msg string
}

func (e *ParamError) Error() string { return e.Field + ": " + e.Msg }

// withDefaults fills zero fields and checks every field, so a valid result
// is exactly what will be painted.
func (p Params) withDefaults() (Params, error) {
	if p.Steps == 0 {
		p.Steps = DefaultSteps
	}
	if p.Width == 0 {
		p.Width = DefaultWidth
	}
	if p.Height == 0 {
		p.Height = DefaultHeight
	}
	if p.Seed == 0 {
		p.Seed = PromptSeed(p.Prompt)
	}
	return p, p.validate()
}

func (p Params) validate() error {
	switch n := utf8.RuneCountInString(p.Prompt); {
	case strings.TrimSpace(p.Prompt) == "":
		return &ParamError{"prompt", "is required: a non-empty description of the image"}
	case !utf8.ValidString(p.Prompt):
		return &ParamError{"prompt", "must be valid UTF-8 text"}
	case n > MaxPromptRunes:
		return &ParamError{"prompt", fmt.Sprintf("must be at most %d characters, got %d", MaxPromptRunes, n)}
	}
	if p.Steps < MinSteps || p.Steps > MaxSteps {
		return &ParamError{"steps", fmt.Sprintf("must be an integer from %d to %d, got %d", MinSteps, MaxSteps, p.Steps)}
	}
	if err := checkSize("width", p.Width); err != nil {
		return err
	}
	return checkSize("height", p.Height)
}

func checkSize(field string, v int) error {
	if v < MinSize || v > MaxSize || v%SizeMultiple != 0 {
		return &ParamError{field, fmt.Sprintf("must be a multiple of %d from %d to %d, got %d",
			SizeMultiple, MinSize, MaxSize, v)}
	}
	return nil
}

// PromptSeed is the seed used when Params.Seed is 0: a hash of the prompt,
// never 0 itself.
func PromptSeed(prompt string) int64 {
	h := fnv.New64a()
	_, _ = h.Write([]byte(prompt))
	s := int64(h.Sum64() >> 1)
	if s == 0 {
		s = 1
	}
	return s
}

package painter

import (
	"hash/fnv"
	"strings"
	"unicode"
)

// skyKind is the light of the scene.
type skyKind int

const (
	skyDay skyKind = iota
	skySunset
	skyDawn
	skyNight
	skyStorm
	skyFog
)

// scene is what the prompt asks for. Words set fields; words the painter
// does not know still shift the colours and may add a motif, so every
// prompt paints a different picture.
type scene struct {
	sky    skyKind
	skySet bool
	// hue turns the whole palette (turns); tint pulls it toward a colour word.
	hue     float64
	tint    rgb
	tintAmt float64
	sat     float64 // saturation multiplier
	light   float64 // brightness multiplier

	sun, moon, stars, aurora, rainbow bool
	milkyWay                          bool
	clouds                            float64 // 0 (none) .. 1 (overcast)

	mountains, snow, volcano   bool
	water, beach, island       bool
	desert, hills              bool
	forest, palms, autumn      bool
	blossom                    bool
	city, lighthouse, boat     bool
	flowers, cat, birds        bool
	fire, fireflies, rain, fog bool
}

// hasLand says whether some word chose the land.
func (s *scene) hasLand() bool {
	return s.mountains || s.water || s.desert || s.hills || s.city || s.forest || s.volcano
}

// parsePrompt reads the prompt's words in order, so the result depends only
// on the text.
func parsePrompt(prompt string) scene {
	s := scene{sat: 1, light: 1, clouds: -1}
	words := strings.FieldsFunc(strings.ToLower(prompt), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	ph := hash32(prompt)
	tints := 0
	for _, w := range words {
		if stopWord(w) {
			continue
		}
		if applyWord(&s, w) || applyWord(&s, strings.TrimSuffix(w, "s")) || applyWord(&s, strings.TrimSuffix(w, "es")) {
			if c, ok := colourWord(w); ok {
				tints++
				s.tint = s.tint.mix(c, 1/float64(tints))
				s.tintAmt = 0.35
			}
			continue
		}
		// An unknown word: its hash turns the hues a little and may add a motif.
		h := hash32(w)
		s.hue += (float64(h%1000)/1000 - 0.5) * 0.1
		if h>>10%3 == 0 {
			motifFromHash(&s, h>>12)
		}
	}
	s.hue = max(-0.07, min(0.07, s.hue)) // a nudge: skies stay sky-coloured
	if !s.skySet {
		s.sky = []skyKind{skyDay, skySunset, skyDawn, skyNight, skySunset, skyDay}[ph%6]
	}
	if !s.hasLand() {
		switch ph >> 4 % 5 {
		case 0:
			s.mountains, s.water = true, true
		case 1:
			s.hills, s.forest = true, true
		case 2:
			s.water, s.beach = true, true
		case 3:
			s.mountains, s.forest = true, true
		default:
			s.hills, s.flowers = true, true
		}
	}
	switch s.sky {
	case skyNight:
		if !s.moon && !s.sun {
			s.moon = ph>>8%3 != 0
		}
		s.stars = true
	case skyDay, skySunset, skyDawn, skyFog:
		if !s.moon {
			s.sun = true
		}
	}
	if s.clouds < 0 {
		s.clouds = []float64{0.15, 0.3, 0.45, 0.25}[ph>>12%4]
		if s.sky == skyStorm {
			s.clouds = 0.9
		}
	}
	return s
}

func hash32(s string) uint32 {
	h := fnv.New32a()
	_, _ = h.Write([]byte(s))
	return h.Sum32()
}

func stopWord(w string) bool {
	switch w {
	case "a", "an", "the", "of", "in", "at", "on", "by", "with", "and", "or", "to", "from", "over",
		"under", "near", "into", "is", "are", "its", "my", "our", "this", "that", "very", "some":
		return true
	}
	return false
}

func motifFromHash(s *scene, h uint32) {
	switch h % 9 {
	case 0:
		s.birds = true
	case 1:
		s.flowers = true
	case 2:
		s.forest = true
	case 3:
		s.mountains = true
	case 4:
		s.water = true
	case 5:
		s.clouds = 0.5
	case 6:
		s.hills = true
	case 7:
		s.boat, s.water = true, true
	default:
		s.rainbow = true
	}
}

// colourWord maps colour names to a tint.
func colourWord(w string) (rgb, bool) {
	switch w {
	case "red", "crimson", "scarlet", "ruby":
		return hex(0xd8283c), true
	case "orange", "amber":
		return hex(0xff8a1f), true
	case "yellow", "gold", "golden":
		return hex(0xffc83a), true
	case "green", "emerald", "jade":
		return hex(0x2fae5a), true
	case "teal", "turquoise", "cyan", "aqua":
		return hex(0x1fb5b0), true
	case "blue", "azure", "sapphire", "cobalt":
		return hex(0x2f62e0), true
	case "purple", "violet", "lavender", "indigo":
		return hex(0x8a4fd8), true
	case "pink", "rose", "magenta", "fuchsia":
		return hex(0xff6fae), true
	}
	return rgb{}, false
}

// applyWord applies one known word to s and reports whether it knew it.
func applyWord(s *scene, w string) bool {
	setSky := func(k skyKind) { s.sky, s.skySet = k, true }
	if _, ok := colourWord(w); ok {
		if w == "golden" || w == "gold" {
			if !s.skySet {
				setSky(skySunset)
			}
		}
		if w == "rose" || w == "lavender" {
			s.flowers = true
		}
		return true
	}
	switch w {
	case "sunset", "dusk", "evening", "twilight", "sundown":
		setSky(skySunset)
	case "sunrise", "dawn", "morning", "daybreak":
		setSky(skyDawn)
	case "day", "noon", "sunny", "summer", "bright", "clear", "afternoon":
		setSky(skyDay)
	case "night", "midnight", "nocturne", "moonlit", "moonlight", "dark":
		setSky(skyNight)
	case "starry", "star", "stars":
		setSky(skyNight)
		s.stars = true
	case "galaxy", "cosmos", "cosmic", "space", "universe", "nebula", "milky", "way":
		setSky(skyNight)
		s.stars, s.milkyWay = true, true
	case "moon":
		setSky(skyNight)
		s.moon = true
	case "sun", "solar":
		s.sun = true
	case "storm", "stormy", "thunder", "thunderstorm", "lightning", "cloudy", "overcast", "grey", "gray", "gloomy":
		setSky(skyStorm)
	case "rain", "rainy", "raining", "drizzle", "monsoon":
		setSky(skyStorm)
		s.rain = true
	case "fog", "foggy", "mist", "misty", "haze", "hazy":
		if !s.skySet {
			setSky(skyFog)
		}
		s.fog = true
	case "aurora", "northern", "borealis", "lights":
		setSky(skyNight)
		s.aurora, s.stars = true, true
	case "cloud", "clouds", "sky", "heaven", "heavenly":
		s.clouds = 0.55
	case "rainbow":
		s.rainbow = true
	case "mountain", "alps", "alpine", "peak", "summit", "himalaya", "range", "canyon", "cliff", "rocky":
		s.mountains = true
	case "volcano", "volcanic", "lava", "eruption", "magma":
		s.volcano, s.fire = true, true
	case "ocean", "sea", "coast", "coastal", "lake", "river", "harbor", "harbour", "bay",
		"wave", "water", "pond", "fjord", "shore", "seaside", "reflection":
		s.water = true
	case "beach", "sand", "sandy":
		s.water, s.beach = true, true
	case "island", "lagoon":
		s.water, s.island, s.palms = true, true, true
	case "tropical", "tropic", "paradise":
		s.water, s.beach, s.palms = true, true, true
	case "palm":
		s.palms = true
	case "forest", "wood", "woods", "pine", "tree", "trees", "taiga", "jungle", "woodland", "grove":
		s.forest = true
	case "autumn", "fall", "maple", "harvest":
		s.forest, s.autumn = true, true
	case "cherry", "sakura", "blossom", "spring", "orchard":
		s.forest, s.blossom, s.flowers = true, true, true
	case "desert", "dune", "sahara", "oasis", "arid", "cactus":
		s.desert = true
		if !s.skySet {
			setSky(skyDay)
		}
	case "meadow", "field", "hill", "valley", "countryside", "prairie", "farm", "village", "pasture":
		s.hills = true
	case "wheat", "grain", "hay", "barley":
		s.hills = true
		s.tint, s.tintAmt = s.tint.mix(hex(0xffc83a), 0.5), 0.35
	case "snow", "snowy", "winter", "ice", "icy", "frozen", "glacier", "arctic", "frost", "christmas":
		s.snow = true
	case "city", "town", "skyline", "street", "downtown", "building", "skyscraper", "metropolis",
		"cyberpunk", "neon", "urban", "tokyo", "paris", "york":
		s.city = true
	case "lighthouse", "beacon":
		s.lighthouse, s.water = true, true
	case "boat", "ship", "sail", "sailboat", "yacht", "sailing", "fishing":
		s.boat, s.water = true, true
	case "flower", "garden", "bloom", "tulip", "poppy", "daisy", "sunflower", "wildflower", "petal", "floral":
		s.flowers = true
	case "cat", "kitten", "kitty", "feline":
		s.cat = true
	case "bird", "seagull", "gull", "crow", "flock", "swallow", "eagle", "dove":
		s.birds = true
	case "fire", "flame", "campfire", "bonfire", "burning", "inferno", "ember", "dragon", "phoenix":
		s.fire = true
	case "firefly", "fireflie", "glow", "glowing", "magic", "magical", "fairy":
		s.fireflies = true
	case "vibrant", "vivid", "colorful", "colourful", "psychedelic", "saturated":
		s.sat *= 1.3
	case "pastel", "dreamy", "soft", "gentle", "faded", "vintage", "calm", "serene", "peaceful":
		s.sat *= 0.75
		s.light *= 1.05
	case "moody", "somber", "shadow", "noir", "ominous":
		s.light *= 0.8
		s.sat *= 0.85
	default:
		return false
	}
	return true
}

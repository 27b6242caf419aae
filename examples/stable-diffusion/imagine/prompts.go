package imagine

// builtinPrompts are the prompts drawn when none are given, in the spirit
// of the GKE example's list; each is a fresh copy.
func builtinPrompts() []string {
	return []string{
		"a lighthouse at sunset",
		"a cat watching the moon over the ocean",
		"snowy mountains at dawn",
		"a pine forest under the northern lights",
		"a city skyline at night by the river",
		"a field of wildflowers on a sunny day",
		"a volcano erupting under a starry sky",
		"a sailboat on a misty lake at sunrise",
		"a tropical beach with palm trees at dusk",
		"a campfire in an autumn valley at night",
		"desert dunes under a golden sky",
		"cherry blossoms in spring by a quiet pond",
		"a stormy sea with a lonely lighthouse",
		"fireflies over a meadow at twilight",
		"an alpine lake reflecting the summer peaks",
		"a rainbow over green hills after the rain",
		"a frozen lake in winter under the moon",
		"a harbor town at golden hour",
		"a flock of birds over the ocean at dawn",
		"a purple sunset over the mountains",
		"a neon city in the rain",
		"an island in a turquoise lagoon",
		"a misty forest in the early morning",
		"a cat in a garden of roses",
		"the milky way over a desert oasis",
		"a red sailboat on a calm blue sea",
		"a dreamy pastel sky over a lavender field",
		"a dark forest with a glowing campfire",
		"snow falling on a quiet village at night",
		"a golden wheat field at the end of summer",
	}
}

// Package painter is the Stable Diffusion example's default model: a small
// CPU text-to-image "model" that really paints from the prompt, served as a
// Gantry replica.
//
// Contract:
//
//   - Paint(Params) returns an opaque RGBA image of Width x Height pixels
//     (default 512x512; multiples of 8 from 64 to 1024) after Steps
//     refinement steps (default 30; 1 to 150). Out-of-range fields return a
//     *ParamError naming the field and what it allows.
//   - The same Prompt, Seed, Steps and size always give the same pixels on
//     the same architecture: the painter uses its own seeded generators,
//     never map order, time or global randomness. Seed 0 means "derived
//     from the prompt" (PromptSeed), so a prompt alone is reproducible.
//   - The prompt's words choose the light (sunset, night, dawn, storm, fog,
//     ...), the land (mountains, ocean, desert, hills, city, ...) and motifs
//     (lighthouse, boat, trees, flowers, cat, fire, aurora, ...); colour words
//     tint the palette; unknown words shift the hues and may add a motif.
//     The seed fixes the composition.
//   - Like a diffusion sampler, Paint starts from seeded noise and moves
//     toward the composition over Steps steps while a smoothing pass removes
//     noise, so cost grows linearly with Steps and pixels (about 130 ms for
//     512x512 at 30 steps on one core) and few steps leave a grainy image.
//   - Handler serves POST /imagine (JSON) and GET /imagine (query, accepting
//     img_size like the GPU example) with image/png, GET / with a JSON
//     description, and 400/404/405 with {"error", "field"} JSON bodies.
//   - Main runs Handler as a replica through replica.Serve, taking
//     {"default_steps": N} as user_config.
//
// Real Stable Diffusion replicas (on TPU or GPU hosts) serve the same API.
package painter

// Package imagine is the Stable Diffusion example's client, `gantry
// imagine`: the Go counterpart of the GKE example's
// stable_diffusion_tpu_req.py.
//
// Main sends -n prompts (given with --prompt, or drawn from a built-in list
// in an order fixed by --seed) as GET /imagine?prompt=... to --url, with at
// most --concurrency requests in flight and a per-request --timeout. It
// prints one line per image (latency, size, the replica that painted it,
// the prompt) and a summary with latency percentiles, and tiles the images
// into a grid of 2 rows by ceil(n/2) columns (1 row for one image) written
// to --out. A failed request is reported, leaves its cell dark, and makes
// Main return an error once the rest are done.
package imagine

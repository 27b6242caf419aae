// Package admin is the gateway's admin listener (port 8265): Ray's
// dashboard Serve API (/api/serve/applications/, /api/ray/version), Gantry's
// richer view and its other endpoints under /api/gantry/, /metrics (the
// Registry it is given) and pprof. It reads the deploy.Controller's status
// and applies configs to it; it knows the data plane only through the
// Ingress interface (its address, whether it drains, and its handler for
// try-it).
//
// Ray's view holds exactly Ray's fields: deployed_app_config is the config
// as applied for import_path applications (Gantry's own fields left out,
// working_dir as a local:// URI) and null for the others. Gantry's view
// adds, among others, each replica's multiplexed_model_ids; GET
// /api/gantry/handle gives local driver scripts (serve.run) the handle
// endpoint's address and token.
//
// The API starts processes: New refuses an address beyond loopback without
// a token (CheckBind), and with a token every mutating call and pprof need
// "Authorization: Bearer TOKEN". Against browsers on the same machine
// (guardBrowser): without a token only a loopback Host header (localhost,
// *.localhost, a loopback IP) is answered (403 otherwise, against DNS
// rebinding), and a write whose Origin is neither its Host nor a loopback
// origin (or, without an Origin, says Sec-Fetch-Site: cross-site) is
// refused with 403, token or not. Heavy reads (the applications views,
// time series, events, logs) draw on a byte budget per client address
// (readLimiter, DefaultReadLimit): past it, 429 with Retry-After.
//
// The web dashboard (dashboard/, embedded) is served at / with relative URLs
// only, so it works under a path prefix; ?static=1 makes a page that
// renders once with no stream, for screenshots. The endpoints behind it: the
// controller's events (JSON, or server-sent events with follow=1), a
// 15-minute time series sampled once a second by Sampler (run by
// Server.Run; a bounded run-length ring per deployment, answered in pages
// of bounded size), replica logs (follow=1 streams), TPU slices, config
// validation, and /api/gantry/try/, which hands a request to the ingress
// in-process.
//
// Server.Run serves until its context ends, then ends the streams and
// closes the listener. See docs/api.md.
package admin

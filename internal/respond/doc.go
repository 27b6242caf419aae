// Package respond writes the gateway's own answers: JSON bodies and plain-text errors.
// The ingress and the admin API both answer this way, so a client sees one shape for
// Gantry's errors whichever port it asked.
package respond

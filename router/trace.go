package router

import "encoding/hex"

// traceparent returns a new W3C trace context header value (version 00,
// random trace and span ids, sampled), for requests that arrive without one.
func (d *Deployment) traceparent() string {
	var ids [24]byte
	for i := 0; i < len(ids); i += 8 {
		v := d.rand64()
		for j := range 8 {
			ids[i+j] = byte(v >> (8 * j))
		}
	}
	var b [55]byte
	copy(b[:], "00-")
	hex.Encode(b[3:35], ids[:16])
	b[35] = '-'
	hex.Encode(b[36:52], ids[16:])
	copy(b[52:], "-01")
	return string(b[:])
}

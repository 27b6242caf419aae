package router

import (
	"bytes"
	"io"
	"net/http"
	"sync/atomic"
)

// requestBody lets a request body be sent more than once where that is
// safe: small bodies are read up front; larger and unsized ones stream, and
// count what was read so a retry only happens when nothing was.
type requestBody struct {
	buf    []byte         // the whole body, when buffered
	stream *countedReader // the body, when streamed
	none   bool
}

func readBody(r *http.Request) (*requestBody, error) {
	switch {
	case r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0:
		return &requestBody{none: true}, nil
	case r.ContentLength > 0 && r.ContentLength <= MaxBufferedBody:
		buf := make([]byte, r.ContentLength)
		if _, err := io.ReadFull(r.Body, buf); err != nil {
			return nil, err
		}
		return &requestBody{buf: buf}, nil
	default:
		return &requestBody{stream: &countedReader{r: r.Body}}, nil
	}
}

// attach sets out's body for the next attempt.
func (b *requestBody) attach(out *http.Request) {
	switch {
	case b.none:
		out.Body, out.ContentLength = nil, 0
	case b.buf != nil:
		out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(b.buf)), int64(len(b.buf))
		buf := b.buf
		out.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf)), nil }
	default:
		out.Body, out.ContentLength = b.stream, -1
	}
}

// replayable reports whether the body can be sent again after the replica
// may have read some of it. A streamed body never can: the transport may
// still be reading it when the attempt fails. (After a dial error nothing
// was read, and the engine retries that case regardless; see classify.)
func (b *requestBody) replayable() bool { return b.stream == nil }

// err is the error reading the client's streamed body failed with, if it
// did: an attempt that failed with it failed through the client's fault.
func (b *requestBody) err() error {
	if b.stream == nil {
		return nil
	}
	if e := b.stream.err.Load(); e != nil {
		return *e
	}
	return nil
}

// countedReader counts bytes read (for the logs and tests); Close does not close the client's body
// (the server does), so a retry can still read it.
type countedReader struct {
	r   io.Reader
	n   atomic.Int64
	err atomic.Pointer[error] // the first read error other than io.EOF
}

func (c *countedReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	if err != nil && err != io.EOF {
		e := err // only a failed read allocates
		c.err.CompareAndSwap(nil, &e)
	}
	return n, err
}

func (c *countedReader) Close() error { return nil }

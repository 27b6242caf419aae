package oip

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
)

// The REST v2 wire's HTTP side: the binary tensor extension's header and
// body framing, and the protocol's error body. The gateway (both ways) and
// HTTP replicas (the painter) use these, so the framing is written once.

// HeaderLength reads Inference-Header-Content-Length from h: the length of
// the JSON header that starts a binary-extension body, or -1 when absent
// (the body is all JSON).
func HeaderLength(h http.Header) (int, error) {
	v := h.Get(HeaderContentLength)
	if v == "" {
		return -1, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, &headerLengthError{v}
	}
	return n, nil
}

type headerLengthError struct{ value string }

func (e *headerLengthError) Error() string {
	return HeaderContentLength + " must be the JSON header's length in bytes, got " + strconv.Quote(e.value)
}

// SetBodyHeaders sets the headers of a REST v2 body of bodyLen bytes whose
// JSON header is headerLen bytes long (-1: the body is plain JSON), as
// EncodeRESTRequest and EncodeRESTResponse return them.
func SetBodyHeaders(h http.Header, bodyLen, headerLen int) {
	if headerLen >= 0 {
		h.Set("Content-Type", "application/octet-stream")
		h.Set(HeaderContentLength, strconv.Itoa(headerLen))
	} else {
		h.Set("Content-Type", "application/json")
	}
	h.Set("Content-Length", strconv.Itoa(bodyLen))
}

// DecodeHTTPRequest parses the body of POST /v2/models/{m}/infer, framed as
// header h says.
func DecodeHTTPRequest(h http.Header, body []byte) (*Request, error) {
	hl, err := HeaderLength(h)
	if err != nil {
		return nil, err
	}
	return DecodeRESTRequest(body, hl)
}

// DecodeHTTPResponse parses an answer to POST .../infer, framed as header h
// says.
func DecodeHTTPResponse(h http.Header, body []byte) (*Response, error) {
	hl, err := HeaderLength(h)
	if err != nil {
		return nil, err
	}
	return DecodeRESTResponse(body, hl)
}

// WriteResponse answers req with resp on w (see EncodeRESTResponse).
func WriteResponse(w http.ResponseWriter, resp *Response, req *Request) error {
	data, hl, err := EncodeRESTResponse(resp, req)
	if err != nil {
		return err
	}
	SetBodyHeaders(w.Header(), len(data), hl)
	w.Write(data)
	return nil
}

// ErrorBody is the protocol's error body: {"error": msg}.
func ErrorBody(msg string) []byte {
	b, _ := json.Marshal(struct {
		Error string `json:"error"`
	}{msg})
	return append(b, '\n')
}

// WriteError answers the protocol's error body with code.
func WriteError(w http.ResponseWriter, code int, msg string) {
	b := ErrorBody(msg)
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(code)
	w.Write(b)
}

// ErrorMessage is the "error" of an error body b, or b itself (trimmed,
// at most 512 bytes) when it is not one.
func ErrorMessage(b []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return e.Error
	}
	if len(b) > 512 {
		b = b[:512]
	}
	return string(bytes.TrimSpace(b))
}

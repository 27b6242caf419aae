package ingress

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// ServerVersion is what ServerMetadata and GET /v2 answer as the server's
// version: the Ray release whose Serve Gantry follows (the admin API's
// RayCompatVersion; a test in serve keeps the two equal).
const ServerVersion = "2.60.0"

// writeJSON writes v as the JSON response.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		textError(w, http.StatusInternalServerError, "encoding the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
	w.Write([]byte("\n"))
}

// textError answers code with msg as plain text, ending in a newline.
func textError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, strings.TrimRight(msg, "\n")+"\n")
}

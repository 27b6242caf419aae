package respond

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// JSON writes v as a JSON body with status code, ending in a newline. A value that
// cannot be encoded becomes a 500 that says why.
func JSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		Text(w, http.StatusInternalServerError, "encoding the answer: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
	w.Write([]byte("\n"))
}

// Text answers code with msg as plain text, ending in exactly one newline.
func Text(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	io.WriteString(w, strings.TrimRight(msg, "\n")+"\n")
}

package respond

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestJSONEndsInANewline(t *testing.T) {
	rec := httptest.NewRecorder()
	JSON(rec, http.StatusCreated, map[string]int{"a": 1})
	if rec.Code != http.StatusCreated || rec.Body.String() != "{\"a\":1}\n" {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q", ct)
	}
}

func TestJSONThatCannotBeEncodedIsA500(t *testing.T) {
	rec := httptest.NewRecorder()
	JSON(rec, http.StatusOK, make(chan int))
	if rec.Code != http.StatusInternalServerError {
		t.Fatalf("got %d %q", rec.Code, rec.Body.String())
	}
}

func TestTextHasOneTrailingNewline(t *testing.T) {
	for _, msg := range []string{"no route", "no route\n", "no route\n\n"} {
		rec := httptest.NewRecorder()
		Text(rec, http.StatusNotFound, msg)
		if rec.Body.String() != "no route\n" || rec.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%q: got %q", msg, rec.Body.String())
		}
	}
}

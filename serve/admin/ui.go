package admin

import (
	"embed"
	"io/fs"
	"net/http"
)

// The web dashboard: plain HTML, CSS and JavaScript modules embedded in the
// binary, no build step. Every URL in it is relative, so it works through
// `kubectl port-forward` and behind a proxy that mounts it under a prefix.

//go:embed dashboard
var dashboardFiles embed.FS

func dashboardUI() http.Handler {
	sub, err := fs.Sub(dashboardFiles, "dashboard")
	if err != nil {
		panic(err) // the folder is embedded: cannot happen
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cache-Control", "no-cache") // revalidate: a new binary brings new files
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'")
		files.ServeHTTP(w, r)
	})
}

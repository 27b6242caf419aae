package ingress

import (
	"net/http"

	"gantry.dev/gantry/internal/respond"
)

// ServerVersion is what ServerMetadata and GET /v2 answer as the server's
// version: the Ray release whose Serve Gantry follows (the admin API's
// RayCompatVersion; a test in serve keeps the two equal).
const ServerVersion = "2.60.0"

func writeJSON(w http.ResponseWriter, code int, v any) { respond.JSON(w, code, v) }

func textError(w http.ResponseWriter, code int, msg string) { respond.Text(w, code, msg) }

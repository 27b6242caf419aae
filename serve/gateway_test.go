package serve_test

import (
	"testing"

	"gantry.dev/gantry/serve/admin"
	"gantry.dev/gantry/serve/ingress"
)

// The Open Inference Protocol's server metadata (ingress) and Ray's
// version endpoint (admin) name the same Ray release.
func TestPlanesAnswerTheSameRayVersion(t *testing.T) {
	if ingress.ServerVersion != admin.RayCompatVersion {
		t.Fatalf("ingress.ServerVersion %q != admin.RayCompatVersion %q", ingress.ServerVersion, admin.RayCompatVersion)
	}
}

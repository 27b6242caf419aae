package admin_test

import (
	"os"
	"testing"

	"gantry.dev/gantry/serve/servetest"
)

// The tests that need a whole gateway run the test replicas and gantry
// that servetest.Main builds.
func TestMain(m *testing.M) { os.Exit(servetest.Main(m)) }

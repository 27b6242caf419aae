package testenv

import (
	"fmt"
	"os"
	"sync"
	"testing"
)

// EnvTestPython names the Python (with gantry-serve installed) that the
// end-to-end tests of import_path applications run; `make test-go` sets
// it to the venv `make py-venv` builds.
const EnvTestPython = "GANTRY_TEST_PYTHON"

var pythonNote sync.Once

// Python returns the Python of EnvTestPython, or skips the test, with a
// loud note on stderr once per test binary, when it is not set.
func Python(t testing.TB) string {
	t.Helper()
	py := os.Getenv(EnvTestPython)
	if py == "" {
		pythonNote.Do(func() {
			fmt.Fprintf(os.Stderr, "NOTE: the tests of Python (import_path) applications are SKIPPED: set %s "+
				"to a Python with gantry-serve installed (make py-venv; make test-go sets it)\n", EnvTestPython)
		})
		t.Skipf("%s is not set: no Python with gantry-serve to run", EnvTestPython)
	}
	if _, err := os.Stat(py); err != nil {
		t.Fatalf("%s=%s: %v", EnvTestPython, py, err)
	}
	return py
}

package config

import (
	"fmt"
	"strings"
)

// Name limits: what every backend can hold. Ray Serve sets none.
const (
	// MaxNameBytes bounds application and deployment names. The local
	// backend writes a replica's log to
	// <state-dir>/logs/<application>/<application>#<deployment>#<id>-<host>.log
	// (and rotates it to .log.1, .log.2); with both names at most 100 bytes
	// that file name stays well inside the 255 bytes a file name can have.
	// The Kubernetes backend shortens names to fit object names and label
	// values (with a hash) and keeps the exact names in annotations, so it
	// needs no tighter limit.
	MaxNameBytes = 100
	// MaxWorkerGroupNameBytes bounds worker group names, which become the
	// hostnames <group>-<slice>-<host> of multi-host TPU pods on Kubernetes:
	// DNS labels of at most 63 characters, with room for the two indices.
	MaxWorkerGroupNameBytes = 50
)

// name reports an application or deployment name that a backend cannot
// hold: longer than MaxNameBytes, with a '/' or a control character (it
// names a folder and a file, and travels in environment variables, which
// cannot hold NUL), or "." or "..". what is "application" or "deployment".
func (v *validator) name(path, what, s string) {
	switch {
	case len(s) > MaxNameBytes:
		v.addf(path, "at most %d bytes (%s names are part of replica log file names, which are limited to 255 bytes), got %d",
			MaxNameBytes, what, len(s))
	case s == "." || s == "..":
		v.addf(path, "must not be %q (%s names name folders and files)", s, what)
	case strings.Contains(s, "/"):
		v.addf(path, `must not contain "/" (%s names name folders and files), got %q`, what, s)
	case strings.ContainsFunc(s, isControl):
		v.addf(path, "must not contain control characters such as NUL or line breaks, got %q", s)
	}
}

// workerGroupName reports a worker group name that is not a DNS label of
// at most MaxWorkerGroupNameBytes: lower-case letters, digits and '-',
// starting and ending with a letter or digit.
func (v *validator) workerGroupName(path, s string) {
	if len(s) > MaxWorkerGroupNameBytes {
		v.addf(path, "at most %d bytes (it becomes the hostnames <name>-<slice>-<host> of multi-host TPU replicas, "+
			"DNS labels of at most 63 characters), got %d", MaxWorkerGroupNameBytes, len(s))
		return
	}
	ok := s != "" && alnum(s[0]) && alnum(s[len(s)-1])
	for i := 0; i < len(s) && ok; i++ {
		ok = alnum(s[i]) || s[i] == '-'
	}
	if !ok {
		v.addf(path, "must be lower-case letters, digits and '-', starting and ending with a letter or digit "+
			"(it becomes the hostnames <name>-<slice>-<host> of multi-host TPU replicas), got %q", s)
	}
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// CheckName returns an error when s cannot be the name of an application
// or deployment (what says which), for names that come from elsewhere than
// a config: the deployments a Python application's code binds.
func CheckName(what, s string) error {
	if s == "" {
		return fmt.Errorf("a %s name must not be empty", what)
	}
	v := &validator{}
	v.name("", what, s)
	if len(v.problems) > 0 {
		return fmt.Errorf("%s name %q: %s", what, truncateMsg(s, 60), v.problems[0].Message)
	}
	return nil
}

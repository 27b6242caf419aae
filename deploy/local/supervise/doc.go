// Package supervise is the process that stands between the local backend
// and one member of a replica, so that no process the member starts outlives
// it or the gateway.
//
// A supervisor is the gateway's own executable run with Arg as its first
// argument: `EXE __supervise PATH -- ARGV...`. This package's init
// recognizes that and runs the supervisor instead of the program's main, so
// any program that links the package (package local imports it: the gantry
// binary, every test binary that uses the backend) can supervise its own
// replicas, through /proc/self/exe. The package imports only a few standard
// packages, so that its init runs before the heavy ones (Kubernetes
// clients, protobuf registries) and a supervisor costs a few megabytes.
//
// The supervisor starts PATH with ARGV in a process group of its own, with
// the supervisor's environment, working directory and standard streams. It
// is the command's parent and, by PR_SET_CHILD_SUBREAPER, the new parent of
// every descendant that is orphaned (a double fork), so walking /proc from it
// finds every process of the member, even one that left the group (setsid).
//
// The gateway talks to it over a Unix stream socket at file descriptor
// ControlFD, of which the gateway holds the only other end:
//   - the supervisor writes "pid N\n" once the command is started (the
//     command's PID, which the gateway reports), or "error MESSAGE\n" and
//     exits 127 if it could not be;
//   - end of file on the socket means "kill everything now": the gateway
//     closed it (a stop whose grace period is over) or died, by SIGKILL even,
//     and the kernel closed it. The supervisor then SIGKILLs every
//     descendant, pass after pass until none is left, and exits.
//
// SIGTERM and SIGINT are passed on once to every process of the member (the
// group while the command lives, and each descendant outside it); the
// supervisor exits when the command and all of them are gone. When the
// command exits by itself, what it left behind is killed at once: nothing
// would ever stop it.
//
// The supervisor exits as the command did: with its exit code, or by the
// same signal (with the kernel's default action restored first, since the Go
// runtime would turn a SIGABRT or SIGSEGV into a trace and exit code 2), so
// that whoever waits for it sees the command's own status.
//
// The command is started from a thread the supervisor never releases, with
// SIGKILL as its parent-death signal: should the supervisor itself be
// SIGKILLed, the command dies too, though its own descendants then do not.
//
// The package works on Linux only.
package supervise

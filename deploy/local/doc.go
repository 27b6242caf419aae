// Package local is the deploy.Backend that runs replicas as child processes
// of the gateway.
//
// Each member of a replica is one command, started with the replica
// protocol's environment (PORT, GANTRY_REPLICA_ID, GANTRY_DEPLOYMENT,
// GANTRY_APPLICATION, GANTRY_USER_CONFIG, GANTRY_HOST_INDEX and, for
// multi-host replicas, GANTRY_HOSTS: name=host:port of every member,
// comma-separated, named after placement's TPU_WORKER_HOSTNAMES or else
// host-<i>) in a process group of its own, under a supervisor.
//
// No process a replica starts outlives the replica or the gateway, even one
// that left the replica's process group (setsid) or was orphaned (a double
// fork). Each member's supervisor is the gateway's own executable, re-run
// through /proc/self/exe with a hidden first argument (`__supervise PATH --
// ARGV...`; this package's init runs it, so any program that links the
// package can supervise): it is the command's parent and, by
// PR_SET_CHILD_SUBREAPER, the new parent of every orphaned descendant, so
// walking /proc from it finds every process of the member. It
//   - reports the command's PID to the gateway (Members shows that PID, not
//     the supervisor's), and exits as the command did: with its exit code, or
//     by the same signal, so the gateway's "exit status 3" and "signal:
//     killed" are the command's own;
//   - on SIGTERM or SIGINT from the gateway (Stop), passes the signal once to
//     the command's process group and to each descendant outside it, and
//     exits when all of them are gone;
//   - when the command exits by itself, kills what it left behind, since
//     nothing would ever stop it;
//   - when its control socket reaches end of file, SIGKILLs every descendant
//     until none is left, then exits. The gateway holds the only other end,
//     so the kernel closes it when the gateway dies, even by SIGKILL; Stop
//     closes it once the grace period is over.
//
// Why a supervisor: Linux's parent-death signal reaches only the direct
// child, and belongs to the thread that forked it rather than the process;
// a process group is left with setsid; a subreaper in the gateway dies with
// the gateway. A cgroup per replica (cgroup.kill) would need cgroup v2 with a
// delegated subtree, which neither this machine nor every CI runner has,
// and would still need a fallback. The supervisor needs nothing but Linux
// and costs one small process per member. Should the supervisor itself be
// SIGKILLed, its command still dies (parent-death signal, from a thread the
// supervisor never ends), though the command's own descendants then do not.
//
// Process groups also keep a terminal's Ctrl-C away from the supervisors and
// the members: the gateway decides how they stop.
//
// A member's stdout and stderr are appended to
// StateDir/logs/<application>/<replica-id>-<host>.log, and the last lines of
// member 0 are kept in memory for Instance.LogTail.
//
// The package works on Linux only.
package local

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
// fork): each member runs under a supervisor (package supervise), the
// gateway's own executable re-run through /proc/self/exe, which is the
// subreaper of everything the member starts. Members shows the command's
// PID, not the supervisor's, and a member's exit status is the command's
// ("exit status 3", "signal: killed"). Stop sends SIGTERM to the supervisor,
// which passes it to every process of the member and exits once they are
// all gone; when the grace period is over, Stop closes the member's control
// socket and the supervisor SIGKILLs them all. The gateway holds the only
// other end of that socket, so when the gateway dies, by SIGKILL even, the
// kernel closes it and the supervisor kills them all too.
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

// Package local is the deploy.Backend that runs replicas as child processes
// of the gateway.
//
// Each member of a replica is one process, started with the replica
// protocol's environment (PORT, GANTRY_REPLICA_ID, GANTRY_DEPLOYMENT,
// GANTRY_APPLICATION, GANTRY_USER_CONFIG, GANTRY_HOST_INDEX and, for
// multi-host replicas, GANTRY_HOSTS: name=host:port of every member,
// comma-separated, named after placement's TPU_WORKER_HOSTNAMES or else
// host-<i>) in a process group of its own. Stopping
// a member signals its whole group, so the children a replica starts (a shell
// script's server, say) go with it.
//
// Members must not outlive the gateway. Every member is forked by one
// goroutine locked to its OS thread for the life of the Backend, and asks the
// kernel for SIGKILL when that thread ends (Linux's parent-death signal),
// which happens when the gateway dies, even by SIGKILL. The signal belongs to
// the thread that forked the child, not to the process, so forking from
// arbitrary goroutines would not do: the Go runtime ends a thread whenever a
// goroutine exits while locked to it, and a member forked there would be
// killed at a random moment. The signal reaches the member process only, not
// the children it started: a replica that wraps its server in a script
// should exec it.
//
// Process groups also keep a terminal's Ctrl-C away from the members: the
// gateway decides how they stop.
//
// A member's stdout and stderr are appended to
// StateDir/logs/<application>/<replica-id>-<host>.log, and the last lines of
// member 0 are kept in memory for Instance.LogTail.
//
// The package works on Linux only.
package local

package deploy

import (
	"context"
	"encoding/json"
	"gantry.dev/gantry/deploy/config"
	"time"
)

// Backend starts replicas: child processes on the local backend, pods on
// Kubernetes. It knows nothing of routing or health; the controller owns both.
type Backend interface {
	// Start launches every member of the replica described by spec and returns
	// without waiting for it to become healthy. The caller owns the returned
	// Instance and must eventually Stop it, even after it has exited.
	Start(ctx context.Context, spec ReplicaSpec) (Instance, error)
}

// ReplicaSpec is everything a backend needs to run one replica.
type ReplicaSpec struct {
	// ID is unique for the life of the gateway, e.g. "stable_diffusion#painter#a1b2c3".
	ID string
	// Application and Deployment name what the replica belongs to.
	Application string
	Deployment  string
	// Command is the argv with paths already resolved (see Config.Specs).
	Command []string
	// Env is added to the inherited environment of every member.
	Env map[string]string
	// WorkingDir is the members' working directory; empty means the gateway's.
	WorkingDir string
	// UserConfig is passed as GANTRY_USER_CONFIG (JSON); nil means null.
	UserConfig json.RawMessage
	// Hosts is the number of members: 1, or the hosts of a multi-host TPU slice.
	Hosts int
	// MemberEnv, when set, has Hosts entries of extra variables per member
	// (the TPU worker environment).
	MemberEnv []map[string]string

	// What a backend that places replicas on machines (Kubernetes) needs;
	// the local backend ignores them.

	// Version is the deployment's code version (DeploymentSpec.CodeVersion).
	Version string
	// Image is the container image (replica.image).
	Image string
	// Resources are the deployment's ray_actor_options; nil when unset.
	Resources *config.RayActorOptions
	// Group is the worker group whose slice the replica holds and Slice
	// that slice's index; nil and -1 without TPU.
	Group *config.WorkerGroup
	Slice int
	// Grace is graceful_shutdown_timeout_s.
	Grace time.Duration
}

// Instance is one started replica: one member per host. Traffic goes to member 0.
type Instance interface {
	// Address is the host:port traffic goes to (member 0).
	Address() string
	// Members describes every member; member i has Host == i.
	Members() []Member
	// Done is closed once any member has exited.
	Done() <-chan struct{}
	// Err says how the first member to exit ended ("exit status 1",
	// "signal: killed"); nil while Done is open.
	Err() error
	// Stop sends SIGTERM to every member, waits up to grace for them to
	// exit, then kills what is left. It returns once every member is gone and
	// is safe to call more than once and after the members have exited.
	Stop(grace time.Duration) error
	// LogPath is the path of member 0's output log.
	LogPath() string
	// LogTail returns up to n of the last lines member 0 wrote.
	LogTail(n int) []string
}

// Member is one process (or pod) of a replica.
type Member struct {
	// Host is the member's host index within its slice (TPU_WORKER_ID).
	Host int
	// Address is the host:port the member serves on.
	Address string
	// PID is the process id (0 on Kubernetes).
	PID int
	// LogPath is where the member's stdout and stderr go.
	LogPath string
}

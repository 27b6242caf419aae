package deploy

import "gantry.dev/gantry/router"

// What readers need beyond the snapshot: numbers that change with every
// request, and replica logs. Both are read from the live objects when asked,
// so the snapshot stays a plain value that changes only with the
// controller's state.

// liveIndex finds the live objects behind the last published snapshot. It
// is published with it and never modified.
type liveIndex struct {
	deployments map[[2]string]*router.Deployment // by application and deployment
	replicas    map[string]liveReplica           // by replica id
}

type liveReplica struct {
	rep  *router.Replica // nil until it first passed its health check
	inst Instance        // nil until the backend started it
}

// Traffic is what a deployment's router counts now.
type Traffic struct {
	// Queued is the number of requests waiting for a replica.
	Queued int64
	// Inflight is the number of requests each replica is serving, by replica
	// id; replicas that serve nothing (yet) are absent.
	Inflight map[string]int64
	// Models are the multiplexed model ids each replica last said it has
	// loaded, by replica id; replicas that never said are absent.
	Models map[string][]string
	// Stats are the request counters (see router.Stats).
	Stats router.Stats
}

// Traffic reads deployment dep of application app from its router now; the
// zero Traffic if the last snapshot does not have it. It takes no lock.
func (c *Controller) Traffic(app, dep string) Traffic {
	live := c.status.Load().live
	d := live.deployments[[2]string{app, dep}]
	if d == nil {
		return Traffic{}
	}
	t := Traffic{Queued: d.Queued(), Inflight: map[string]int64{}, Models: map[string][]string{}, Stats: d.Stats()}
	for id, r := range live.replicas {
		if r.rep != nil && replicaOf(id, app, dep) {
			t.Inflight[id] = r.rep.Inflight()
			if ids := r.rep.MultiplexedModelIDs(); ids != nil {
				t.Models[id] = ids
			}
		}
	}
	return t
}

// replicaOf reports whether replica id ("app#deployment#suffix") belongs to
// deployment dep of application app.
func replicaOf(id, app, dep string) bool {
	p := app + "#" + dep + "#"
	return len(id) > len(p) && id[:len(p)] == p
}

// LogFollower is an Instance that can say what its member 0 wrote after a
// point: the local backend's instances are.
type LogFollower interface {
	// LogSince returns the complete lines written after line number after
	// (0: from the first line still kept) and the number of the last line.
	LogSince(after uint64) (lines []string, last uint64)
}

// ReplicaLog reads what a replica's member 0 wrote.
type ReplicaLog struct {
	inst Instance // nil before the replica started
}

// ReplicaLog returns the log of the replica with id, if the last snapshot
// has it.
func (c *Controller) ReplicaLog(id string) (ReplicaLog, bool) {
	r, ok := c.status.Load().live.replicas[id]
	return ReplicaLog{inst: r.inst}, ok
}

// Tail returns up to n of the last lines; none before the replica started.
func (l ReplicaLog) Tail(n int) []string {
	if l.inst == nil {
		return nil
	}
	return l.inst.LogTail(n)
}

// Follower returns the replica's instance as a LogFollower, if it is
// started and its backend can follow logs.
func (l ReplicaLog) Follower() (LogFollower, bool) {
	f, ok := l.inst.(LogFollower)
	return f, ok
}

// Replica returns the replica with id as last observed.
func (s *Snapshot) Replica(id string) (ReplicaStatus, bool) {
	for _, a := range s.Applications {
		for _, d := range a.Deployments {
			for _, r := range d.Replicas {
				if r.ID == id {
					return r, true
				}
			}
		}
	}
	return ReplicaStatus{}, false
}

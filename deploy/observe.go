package deploy

import "gantry.dev/gantry/router"

// What the dashboard reads beyond the status: request counters and logs.

// Stats are the deployment's request counters (see router.Stats).
func (s DeploymentStatus) Stats() router.Stats {
	if s.router == nil {
		return router.Stats{}
	}
	return s.router.Stats()
}

// LogFollower is an Instance that can say what its member 0 wrote after a
// point: the local backend's instances are.
type LogFollower interface {
	// LogSince returns the complete lines written after line number after
	// (0: from the first line still kept) and the number of the last line.
	LogSince(after uint64) (lines []string, last uint64)
}

// LogTail returns up to n of the last lines the replica's member 0 wrote;
// none before it started.
func (r ReplicaStatus) LogTail(n int) []string {
	if r.inst == nil {
		return nil
	}
	return r.inst.LogTail(n)
}

// LogFollower returns the replica's instance as a LogFollower, if it is
// started and its backend can follow logs.
func (r ReplicaStatus) LogFollower() (LogFollower, bool) {
	f, ok := r.inst.(LogFollower)
	return f, ok
}

// Replica returns the replica with id as last observed.
func (s Snapshot) Replica(id string) (ReplicaStatus, bool) {
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

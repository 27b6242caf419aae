package deploy

import (
	"time"

	"gantry.dev/gantry/replica"
	"gantry.dev/gantry/router"
)

// DeploymentStatus is a deployment as the controller last observed it.
type DeploymentStatus struct {
	Application string
	Deployment  string
	RoutePrefix string
	Target      int
	Message     string
	Replicas    []ReplicaStatus
	router      *router.Deployment
}

// ReplicaStatus is one replica as the controller last observed it.
type ReplicaStatus struct {
	ID        string
	State     replica.State
	Address   string
	PID       int
	StartedAt time.Time
	LogPath   string
	rep       *router.Replica
}

// Queued is the number of the deployment's requests waiting for a replica now.
func (s DeploymentStatus) Queued() int64 { return s.router.Queued() }

// Inflight is the number of requests the replica is serving now.
func (r ReplicaStatus) Inflight() int64 {
	if r.rep == nil {
		return 0
	}
	return r.rep.Inflight()
}

// Status returns every deployment as last observed, in config order.
func (c *Controller) Status() []DeploymentStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.status
}

// publishStatus copies the loop's state for readers.
func (c *Controller) publishStatus() {
	var out []DeploymentStatus
	for _, app := range c.apps {
		for _, d := range app.deployments {
			ds := DeploymentStatus{
				Application: app.name, Deployment: d.spec.Name, RoutePrefix: app.routePrefix,
				Target: d.target, Message: d.message, router: d.rt,
			}
			for _, r := range d.replicas {
				rs := ReplicaStatus{ID: r.id, State: r.state, StartedAt: r.startedAt, rep: r.rep}
				if r.inst != nil {
					rs.Address = r.inst.Address()
					rs.LogPath = r.inst.LogPath()
					if m := r.inst.Members(); len(m) > 0 {
						rs.PID = m[0].PID
					}
				}
				ds.Replicas = append(ds.Replicas, rs)
			}
			out = append(out, ds)
		}
	}
	sortStatus(out)
	c.mu.Lock()
	c.status = out
	c.mu.Unlock()
}

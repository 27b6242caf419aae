package deploy

import (
	"fmt"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/replica"
)

// placeOn sets the worker groups replicas take slices of. Replicas holding
// a slice that a smaller (or removed) group no longer has are stopped.
func (c *Controller) placeOn(groups []config.WorkerGroup) {
	if c.slices == nil {
		c.slices = NewSlices(groups)
		return
	}
	for _, h := range c.slices.Resize(groups) {
		if d, r := c.findReplica(h.ReplicaID); r != nil {
			c.log.Info("worker group shrank: stopping the replica on a slice it no longer has",
				"replica", r.id, "group", h.Group, "slice", h.Slice)
			c.stopReplica(d, r)
		}
	}
}

// findReplica finds a replica by id.
func (c *Controller) findReplica(id string) (*deploymentRun, *replicaRun) {
	for _, app := range c.apps {
		for _, d := range app.deployments {
			for _, r := range d.replicas {
				if r.id == id {
					return d, r
				}
			}
		}
	}
	return nil, nil
}

// takeSlice gives r a whole free slice of d's worker group and reports
// whether it got one; a replica of a deployment without TPU needs none.
func (c *Controller) takeSlice(d *deploymentRun, r *replicaRun) bool {
	if d.group == nil {
		return true
	}
	slice, ok := c.slices.Acquire(d.group.Name, r.id)
	if !ok {
		r.state = replica.Pending
		d.message = fmt.Sprintf("replica %s waits for a free TPU slice: worker group %s (%s %s, %d chips, %d hosts) has all %d slices in use",
			r.id, d.group.Name, d.group.Accelerator, d.group.Topology, d.group.Chips(), d.group.Hosts(), c.slices.Size(d.group.Name))
		return false
	}
	r.group, r.slice = d.group.Name, slice
	return true
}

// releaseSlice returns r's slice, if it holds one.
func (c *Controller) releaseSlice(r *replicaRun) {
	if r.slice >= 0 {
		c.slices.Release(r.group, r.slice)
		r.slice = -1
	}
}

// placement fills in the members and their TPU environment of a replica
// on a slice.
func placement(spec *ReplicaSpec, g *config.WorkerGroup, slice int) {
	if g == nil {
		spec.Hosts = 1
		return
	}
	spec.Hosts = g.Hosts()
	spec.MemberEnv = TPUEnv(g.Name, slice, spec.Hosts)
	group := *g
	spec.Group, spec.Slice = &group, slice
}

package deploy

import (
	"context"
	"encoding/json"
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/replica"
)

// PlacedInstance is an Instance whose members wait to be placed before they
// have an address: pods waiting for a node and an IP. The controller waits
// for Placed before its first health check, and shows PendingReason (the
// scheduler's "0/3 nodes are available: ...") as the replica's PENDING
// state and its deployment's message meanwhile.
type PlacedInstance interface {
	Instance
	// Placed is closed once every member is placed and Address is known.
	Placed() <-chan struct{}
	// PendingReason says why the members are not placed yet; "" when they
	// are, or when no reason is known yet. It must be cheap: the controller
	// asks on every pass.
	PendingReason() string
}

// Adopter is a Backend whose replicas outlive the gateway that started them
// (pods). A controller that becomes the leader adopts the replicas that exist
// instead of starting new ones; a follower mirrors them into its router
// pools without ever starting or stopping one.
type Adopter interface {
	Backend
	// Existing returns every replica that exists now and is not being
	// deleted. It must be cheap (a cache read): followers ask on every pass.
	Existing(ctx context.Context) ([]Adopted, error)
}

// Adopted is an existing replica and what it was started as.
type Adopted struct {
	Instance    Instance
	ID          string
	Application string
	Deployment  string
	// Version is the code version it runs.
	Version string
	// UserConfig is the user_config it was started with.
	UserConfig json.RawMessage
	// Group and Slice say which TPU slice it holds; "" and -1 for none.
	Group string
	Slice int
}

// SetLeader switches the controller between reconciling (the default) and
// following: a follower applies configs and health-checks and routes to the
// replicas the leader's backend reports (see Adopter), but never starts or
// stops one. Becoming the leader adopts the existing replicas.
func (c *Controller) SetLeader(lead bool) {
	c.leading.Store(lead)
	c.wakeUp()
}

// syncLeadership follows SetLeader: on becoming the leader it adopts the
// existing replicas once; a follower mirrors them on every pass.
func (c *Controller) syncLeadership() {
	if lead := c.leading.Load(); lead != c.lead {
		c.touch()
		c.lead = lead
		c.adoptNeeded = lead
	}
	if c.applied == nil || (c.lead && !c.adoptNeeded) {
		return
	}
	c.adoptNeeded = false
	a, ok := c.backend.(Adopter)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	list, err := a.Existing(ctx)
	cancel()
	if err != nil {
		c.log.Warn("listing existing replicas", "err", err)
		c.adoptNeeded = c.lead
		return
	}
	c.adopt(list)
}

// adopt takes existing replicas on as the controller's own. The leader stops
// those the config no longer has a place for; a follower forgets the
// replicas that are gone.
func (c *Controller) adopt(list []Adopted) {
	now := c.now()
	seen := map[string]bool{}
	for _, x := range list {
		seen[x.ID] = true
		if _, r := c.findReplica(x.ID); r != nil {
			continue
		}
		d := c.findDeployment(x.Application, x.Deployment)
		if d == nil {
			if c.lead {
				c.log.Info("stopping a replica the config has no deployment for", "replica", x.ID)
				c.stopOrphan(x.Instance)
			}
			continue
		}
		ctx, cancel := context.WithCancel(context.Background())
		r := &replicaRun{
			id: x.ID, version: x.Version, userConfig: x.UserConfig, state: replica.Starting,
			startedAt: now, ctx: ctx, cancel: cancel, slice: -1, inst: x.Instance,
		}
		if x.Group != "" {
			if d.group == nil || d.group.Name != x.Group || !c.slices.AcquireIndex(x.Group, x.Slice, x.ID) {
				cancel()
				if c.lead {
					c.log.Info("stopping a replica on a TPU slice it cannot keep", "replica", x.ID, "group", x.Group, "slice", x.Slice)
					c.stopOrphan(x.Instance)
				}
				continue
			}
			r.group, r.slice = x.Group, x.Slice
		}
		d.replicas = append(d.replicas, r)
		c.touch()
		c.log.Info("adopted an existing replica", "replica", x.ID, "leader", c.lead)
		checker := c.checker(d.spec)
		c.spawn(func() {
			c.awaitReady(r.ctx, d, r, x.Instance, checker, nil)
		})
	}
	if c.lead {
		return
	}
	for _, app := range c.apps {
		for _, d := range app.deployments {
			for _, r := range d.replicas {
				if !seen[r.id] && !r.stopping {
					c.stopReplica(d, r) // detached: only leaves the pool
				}
			}
		}
	}
}

// stopOrphan stops a replica the controller does not keep.
func (c *Controller) stopOrphan(inst Instance) {
	c.spawn(func() {
		if err := inst.Stop(config.DefaultGracefulShutdownTimeout); err != nil {
			c.log.Warn("stopping a replica", "err", err)
		}
	})
}

// findDeployment finds a deployment of a live application.
func (c *Controller) findDeployment(app, name string) *deploymentRun {
	a := c.apps[app]
	if a == nil || a.deleting {
		return nil
	}
	return a.find(name)
}

// detached reports whether stopping a replica must leave its process (pod)
// running: on a follower, and at shutdown with Options.Detach.
func (c *Controller) detached() bool {
	return !c.lead || (c.shuttingDown && c.detach)
}

// notePending shows why d's starting replicas wait to be placed.
func (c *Controller) notePending(d *deploymentRun) {
	for _, r := range d.replicas {
		if reason := pendingReason(r); reason != "" {
			d.message = "replica " + r.id + " is pending: " + reason
			return
		}
	}
}

// pendingReason is why r's members wait to be placed, "" if they do not.
func pendingReason(r *replicaRun) string {
	if r.state != replica.Starting || r.stopping {
		return ""
	}
	if p, ok := r.inst.(PlacedInstance); ok {
		return p.PendingReason()
	}
	return ""
}

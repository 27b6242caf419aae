package deploy

import (
	"slices"
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/replica"
	"gantry.dev/gantry/router"
)

// Snapshot is everything the controller last observed, for the REST API,
// the CLI, the dashboard and metrics. It is a plain value, immutable once
// published: readers share it and must not modify it. It holds no live
// object (no router deployment or replica, no Instance); what changes with
// every request (queued and in-flight requests, request counters) is read
// with Controller.Traffic instead, and replica logs with
// Controller.ReplicaLog. The controller publishes a new Snapshot only when
// its state changed, so two reads with no change in between return the same
// pointer.
type Snapshot struct {
	// Config is the applied config; nil when none was applied.
	Config *config.Config
	// Applications are sorted by name; applications being deleted are
	// included (status DELETING) until their replicas are gone.
	Applications []AppStatus
}

// AppStatus is one application as last observed.
type AppStatus struct {
	Name string
	// RoutePrefix is "" when the application is not exposed over HTTP.
	RoutePrefix      string
	Status           AppState
	Message          string
	LastDeployedTime time.Time
	// Config is the application's config as applied.
	Config      config.Application
	Deployments []DeploymentStatus
}

// DeploymentStatus is a deployment as the controller last observed it.
type DeploymentStatus struct {
	Application string
	Deployment  string
	RoutePrefix string
	Status      DeploymentState
	Trigger     Trigger
	Message     string
	// Target is the number of replicas the controller aims for.
	Target int
	// Config is the deployment's config as written; Spec with defaults applied.
	Config   config.Deployment
	Spec     config.DeploymentSpec
	Replicas []ReplicaStatus
	// Autoscaler is the last autoscaling decision; nil unless autoscaling.
	Autoscaler *AutoscalerStatus
}

// AutoscalerStatus is what the autoscaler last saw and decided.
type AutoscalerStatus struct {
	// Load is the in-flight plus queued requests averaged over look_back_period_s.
	Load float64
	// Wanted is the replica count the load asks for, before delays.
	Wanted int
	// Reason explains the last decision.
	Reason string
}

// ReplicaStatus is one replica as the controller last observed it.
type ReplicaStatus struct {
	ID        string
	State     replica.State
	Address   string
	PID       int
	StartedAt time.Time
	LogPath   string
	// Version is the code version the replica runs (DeploymentSpec.CodeVersion).
	Version string
	// Group and Slice say which TPU slice it holds; Slice is -1 for none.
	Group string
	Slice int
	// Members are its processes, one per host of its slice (member 0 takes the traffic).
	Members []Member
}

// Status returns every deployment as last observed, sorted by application
// and deployment.
func (c *Controller) Status() []DeploymentStatus {
	var out []DeploymentStatus
	for _, a := range c.Snapshot().Applications {
		out = append(out, a.Deployments...)
	}
	return out
}

// Snapshot returns what the controller last observed. It takes no lock: the
// snapshot is published whole through an atomic pointer.
func (c *Controller) Snapshot() *Snapshot { return c.status.Load().snap }

// publishedStatus is a snapshot and the live objects behind it, published
// as one so that readers of both see the same state.
type publishedStatus struct {
	snap *Snapshot
	live *liveIndex
}

// touch notes that the loop's state changed: the next pass publishes a new
// snapshot.
func (c *Controller) touch() { c.version++ }

// publishStatus publishes a new snapshot if the loop's state changed since
// the last one.
func (c *Controller) publishStatus() {
	if c.version == c.published {
		return
	}
	c.published = c.version
	snap, live := c.buildSnapshot()
	c.status.Store(&publishedStatus{snap: snap, live: live})
}

// buildSnapshot copies the loop's state into a new snapshot, and indexes the
// live objects behind it for Traffic and ReplicaLog.
func (c *Controller) buildSnapshot() (*Snapshot, *liveIndex) {
	snap := &Snapshot{Config: c.applied}
	live := &liveIndex{deployments: map[[2]string]*router.Deployment{}, replicas: map[string]liveReplica{}}
	for _, app := range c.sortedApps() {
		as := AppStatus{
			Name: app.name, RoutePrefix: app.routePrefix, LastDeployedTime: app.deployedAt, Config: app.config,
		}
		for _, d := range app.deployments {
			ds := DeploymentStatus{
				Application: app.name, Deployment: d.spec.Name, RoutePrefix: app.routePrefix,
				Status: d.status, Trigger: d.trigger, Message: d.message, Target: d.target,
				Config: d.config, Spec: d.spec,
			}
			live.deployments[[2]string{app.name, d.spec.Name}] = d.routed
			if sc := d.scaler; sc != nil {
				ds.Autoscaler = &AutoscalerStatus{Load: sc.load, Wanted: sc.decision.Wanted, Reason: sc.decision.Reason}
			}
			for _, r := range d.replicas {
				rs := ReplicaStatus{ID: r.id, State: r.state, StartedAt: r.startedAt, Version: r.version,
					Group: r.group, Slice: r.slice}
				if pendingReason(r) != "" {
					rs.State = replica.Pending
				}
				if r.inst != nil {
					rs.Address = r.inst.Address()
					rs.LogPath = r.inst.LogPath()
					rs.Members = slices.Clone(r.inst.Members())
					if len(rs.Members) > 0 {
						rs.PID = rs.Members[0].PID
					}
				}
				live.replicas[r.id] = liveReplica{rep: r.rep, inst: r.inst}
				ds.Replicas = append(ds.Replicas, rs)
			}
			as.Deployments = append(as.Deployments, ds)
		}
		if app.deleting {
			as.Status = AppDeleting
		} else {
			as.Status = appState(as.Deployments)
		}
		as.Message = appMessage(as)
		pythonStatus(app, &as)
		snap.Applications = append(snap.Applications, as)
	}
	return snap, live
}

// appMessage is the application's message: what is wrong with its
// deployments, if anything.
func appMessage(a AppStatus) string {
	var msg string
	for _, d := range a.Deployments {
		if d.Message != "" && d.Status != DeploymentHealthy {
			if msg != "" {
				msg += "\n"
			}
			msg += "Deployment '" + d.Deployment + "': " + d.Message
		}
	}
	return msg
}

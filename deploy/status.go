package deploy

import (
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/replica"
	"gantry.dev/gantry/router"
)

// Snapshot is everything the controller last observed, for the REST API,
// the CLI and metrics. It is a copy: readers may keep it.
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
	router     *router.Deployment
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
	rep     *router.Replica
	inst    Instance // nil until started
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

// Status returns every deployment as last observed, sorted by application
// and deployment.
func (c *Controller) Status() []DeploymentStatus {
	var out []DeploymentStatus
	for _, a := range c.Snapshot().Applications {
		out = append(out, a.Deployments...)
	}
	return out
}

// Snapshot returns what the controller last observed.
func (c *Controller) Snapshot() Snapshot {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.snapshot
}

// publishStatus copies the loop's state for readers.
func (c *Controller) publishStatus() {
	snap := Snapshot{Config: c.applied}
	for _, app := range c.sortedApps() {
		as := AppStatus{
			Name: app.name, RoutePrefix: app.routePrefix, LastDeployedTime: app.deployedAt, Config: app.config,
		}
		for _, d := range app.deployments {
			ds := DeploymentStatus{
				Application: app.name, Deployment: d.spec.Name, RoutePrefix: app.routePrefix,
				Status: d.status, Trigger: d.trigger, Message: d.message, Target: d.target,
				Config: d.config, Spec: d.spec, router: d.rt,
			}
			if sc := d.scaler; sc != nil {
				ds.Autoscaler = &AutoscalerStatus{Load: sc.load, Wanted: sc.decision.Wanted, Reason: sc.decision.Reason}
			}
			for _, r := range d.replicas {
				rs := ReplicaStatus{ID: r.id, State: r.state, StartedAt: r.startedAt, Version: r.version,
					Group: r.group, Slice: r.slice, rep: r.rep}
				if pendingReason(r) != "" {
					rs.State = replica.Pending
				}
				if r.inst != nil {
					rs.inst = r.inst
					rs.Address = r.inst.Address()
					rs.LogPath = r.inst.LogPath()
					rs.Members = r.inst.Members()
					if len(rs.Members) > 0 {
						rs.PID = rs.Members[0].PID
					}
				}
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
		snap.Applications = append(snap.Applications, as)
	}
	c.mu.Lock()
	c.snapshot = snap
	c.mu.Unlock()
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

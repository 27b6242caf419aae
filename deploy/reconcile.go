package deploy

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"sort"
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/replica"
	"gantry.dev/gantry/router"
)

// The controller's own records, owned by Run. Four types describe a
// deployment, each from its side: config.Deployment is the deployment as
// written in the config (config.DeploymentSpec with defaults applied);
// deploymentRun is the controller's record of it; DeploymentStatus is the
// copy readers get in a Snapshot; router.Deployment is its pool and queue as
// the router routes to them. Applications likewise: config.Application,
// appRun, AppStatus.

// appRun is the controller's record of one application.
type appRun struct {
	name        string
	routePrefix string
	config      config.Application
	deployedAt  time.Time
	deleting    bool // removed from the config; gone once its replicas are
	deployments []*deploymentRun
	python      *pythonRun // the builds of an import_path application; nil otherwise
}

// deploymentRun is the controller's record of one deployment: what is
// wanted and the replicas that exist.
type deploymentRun struct {
	spec     config.DeploymentSpec
	config   config.Deployment
	routed   *router.Deployment // what the router routes the deployment's requests with
	replicas []*replicaRun
	target   int

	status        DeploymentState
	trigger       Trigger
	message       string              // last problem worth telling the user
	startFailures int                 // replicas in a row that failed before becoming healthy
	backoff       replica.Backoff     // spaces out restarts while replicas keep crashing
	nextStart     time.Time           // no replica starts before this (backoff)
	scaler        *scaler             // nil unless autoscaling
	group         *config.WorkerGroup // the worker group its replicas take slices of; nil without TPU
}

// replicaRun is one replica as the controller sees it.
type replicaRun struct {
	id        string
	version   string // the code version it runs
	state     replica.State
	inst      Instance // nil until the backend has started it
	rep       *router.Replica
	startedAt time.Time
	healthyAt time.Time       // zero until the first healthy check
	ctx       context.Context // ends when the replica is stopped
	cancel    context.CancelFunc
	stopping  bool
	stopWatch context.CancelFunc // ends the health watch; nil until RUNNING
	watching  [2]time.Duration   // the health settings the watch runs with

	userConfig    json.RawMessage // the user_config the replica has
	reconfiguring bool            // a POST /-/reconfigure is under way

	group string // the worker group of its slice; "" without TPU
	slice int    // the slice it holds; -1 while PENDING or without TPU
}

// apply makes cfg the desired state: new deployments are created, settings
// of existing ones change in place, removed applications and deployments
// are stopped.
func (c *Controller) apply(cfg *config.Config) {
	c.eventLog.Add(Event{Kind: EventConfigApplied, Message: appliedMessage(cfg)})
	c.sync(cfg)
	for _, ac := range cfg.Applications {
		if ac.IsPython() {
			c.buildPython(c.apps[ac.EffectiveName()], ac, cfg.BaseDir)
		}
	}
}

// sync makes cfg the desired state, with the deployments of import_path
// applications those of their last build (see expand); apply calls it
// with a new config, and the end of a build with the same one.
func (c *Controller) sync(cfg *config.Config) {
	c.touch()
	now := c.now()
	written := cfg
	cfg = c.expand(cfg)
	specs := map[[2]string]config.DeploymentSpec{}
	groups := map[[2]string]*config.WorkerGroup{}
	tpuGroups := config.DeploymentGroups(cfg)
	for i, s := range cfg.Specs(c.self) {
		specs[[2]string{s.Application, s.Name}] = s
		groups[[2]string{s.Application, s.Name}] = tpuGroups[i]
	}
	c.placeOn(cfg.WorkerGroups)
	listed := map[string]bool{}
	var routes []router.Route
	ingress, all := map[string]*router.Deployment{}, []*router.Deployment(nil)
	for i, ac := range cfg.Applications {
		name := ac.EffectiveName()
		listed[name] = true
		app := c.apps[name]
		if app == nil || app.deleting {
			app = &appRun{name: name}
			c.apps[name] = app
		}
		if changed(app.config, written.Applications[i]) || app.deployedAt.IsZero() {
			app.deployedAt = now
		}
		app.config = written.Applications[i] // as written: the REST API shows it
		app.routePrefix, _ = ac.Route()
		var kept []*deploymentRun
		for _, d := range app.deployments {
			if _, ok := specs[[2]string{name, d.spec.Name}]; ok {
				kept = append(kept, d)
			} else {
				c.stopAll(d)
				// Its route is gone; requests still waiting for it end now.
				d.routed.SetUnavailable("deployment " + name + "/" + d.spec.Name + " was removed from the config")
			}
		}
		app.deployments = kept
		for _, dc := range ac.Deployments {
			s := specs[[2]string{name, dc.Name}]
			d := app.find(dc.Name)
			isNew := d == nil
			if isNew {
				d = &deploymentRun{routed: router.NewDeployment(name, dc.Name, routing(s), c.metrics)}
				d.routed.OnQueue(c.wakeUp)
				app.deployments = append(app.deployments, d)
			}
			if d.status == "" || changed(d.config, dc) {
				msg := updateMessage(isNew, d.spec, s)
				d.status, d.trigger, d.message, d.startFailures = DeploymentUpdating, TriggerConfigUpdateStarted, "", 0
				if !isNew && d.spec.CodeVersion != s.CodeVersion {
					d.message = msg // the rollout says what it rolls out until it is done
				}
				c.eventLog.Add(Event{Kind: EventDeploymentUpdated, Application: name, Deployment: dc.Name, Message: msg})
			}
			d.spec, d.config, d.target = s, dc, s.NumReplicas
			d.group = groups[[2]string{name, dc.Name}]
			d.configureScaling(isNew)
			d.routed.Update(routing(s))
			if s.Ingress && s.RoutePrefix != "" {
				routes = append(routes, router.Route{Prefix: s.RoutePrefix, Application: name, Deployment: d.routed})
			}
			if s.Ingress {
				ingress[name] = d.routed
			}
			all = append(all, d.routed)
		}
	}
	for name, app := range c.apps {
		if !listed[name] && !app.deleting {
			app.deleting = true
			if p := app.python; p != nil && p.cancel != nil {
				p.cancel()
				p.cancel = nil
			}
			for _, d := range app.deployments {
				d.trigger = TriggerDeleting
				c.stopAll(d)
			}
		}
	}
	c.applied = written
	c.router.Publish(router.NewTable(routes).WithDeployments(ingress, all))
}

// changed reports whether two configs differ as JSON.
func changed(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) != string(jb)
}

func (a *appRun) find(name string) *deploymentRun {
	for _, d := range a.deployments {
		if d.spec.Name == name {
			return d
		}
	}
	return nil
}

// sortedApps returns the applications by name.
func (c *Controller) sortedApps() []*appRun {
	apps := make([]*appRun, 0, len(c.apps))
	for _, a := range c.apps {
		apps = append(apps, a)
	}
	sort.Slice(apps, func(i, j int) bool { return apps[i].name < apps[j].name })
	return apps
}

// routing derives the router's settings from a deployment spec.
func routing(s config.DeploymentSpec) router.Settings {
	return router.Settings{
		MaxOngoingRequests: s.MaxOngoingRequests,
		MaxQueuedRequests:  s.MaxQueuedRequests,
		RequestTimeout:     s.RequestTimeout,
		Idempotent:         s.Idempotent,
	}
}

// reconcile starts and stops replicas until every deployment has its
// target, derives statuses from what it sees, and forgets deleted
// applications once their replicas are gone.
func (c *Controller) reconcile() {
	now := c.now()
	for name, app := range c.apps {
		left := 0
		for _, d := range app.deployments {
			before := d.view()
			if c.lead { // a follower only mirrors (syncLeadership)
				c.autoscale(d, now)
				c.reconcileDeployment(d, now)
			}
			c.notePending(d)
			c.updateStatus(d)
			c.syncAvailability(app, d)
			if d.view() != before {
				c.touch()
			}
			left += len(d.replicas)
		}
		if app.deleting && left == 0 {
			delete(c.apps, name)
			c.touch()
		}
	}
}

// deploymentView is what the snapshot shows of a deployment that can change
// in a pass without an event: its derived status and message, its target,
// what the autoscaler last saw, and which replicas wait to be placed.
type deploymentView struct {
	status   DeploymentState
	trigger  Trigger
	message  string
	target   int
	replicas int
	pending  int
	scaled   AutoscalerStatus
}

func (d *deploymentRun) view() deploymentView {
	v := deploymentView{status: d.status, trigger: d.trigger, message: d.message, target: d.target, replicas: len(d.replicas)}
	for _, r := range d.replicas {
		if pendingReason(r) != "" {
			v.pending++
		}
	}
	if s := d.scaler; s != nil {
		v.scaled = AutoscalerStatus{Load: s.load, Wanted: s.decision.Wanted, Reason: s.decision.Reason}
	}
	return v
}

// updateStatus derives the deployment's status from its replicas.
func (c *Controller) updateStatus(d *deploymentRun) {
	if d.status == DeploymentDeployFailed || d.trigger == TriggerDeleting {
		return
	}
	running, alive, settled := 0, 0, true
	for _, r := range d.replicas {
		if r.stopping {
			continue
		}
		alive++
		if serving(r) && r.version == d.spec.CodeVersion {
			running++
			settled = settled && !r.reconfiguring && bytes.Equal(r.userConfig, d.spec.UserConfig)
		}
	}
	switch {
	case running == d.target && alive == d.target && settled:
		if d.status != DeploymentHealthy {
			switch d.status {
			case DeploymentUpdating:
				d.trigger = TriggerConfigUpdateCompleted
			case DeploymentUpscaling:
				d.trigger = TriggerUpscaleCompleted
			case DeploymentDownscaling:
				d.trigger = TriggerDownscaleCompleted
			}
			d.status, d.message = DeploymentHealthy, ""
		}
	case d.status == DeploymentHealthy && running < d.target:
		d.status, d.trigger = DeploymentUnhealthy, TriggerHealthCheckFailed
	}
}

// deployFailedAfter is how many replicas in a row may fail before becoming
// healthy before the deployment is DEPLOY_FAILED: Ray's min(3 × target, 20),
// at least 3.
func deployFailedAfter(target int) int {
	return max(3, min(3*target, 20))
}

func (c *Controller) reconcileDeployment(d *deploymentRun, now time.Time) {
	var cur, old []*replicaRun
	for _, r := range d.replicas {
		switch {
		case r.stopping:
		case r.version == d.spec.CodeVersion:
			cur = append(cur, r)
		default:
			old = append(old, r)
		}
	}
	// Old replicas that serve nothing yet are of no use to anyone.
	old = slices.DeleteFunc(old, func(r *replicaRun) bool {
		if !serving(r) {
			c.stopReplica(d, r)
			return true
		}
		return false
	})
	c.placePending(d)
	// Start current replicas: up to the target, with at most surge more
	// replicas than the target alive while old ones still serve.
	surge := max(1, d.target/5)
	for len(cur) < d.target && len(cur)+len(old) < d.target+surge &&
		!now.Before(d.nextStart) && d.status != DeploymentDeployFailed {
		cur = append(cur, c.startReplica(d, now))
	}
	// Retire old replicas only while the serving ones stay at the target.
	servingCur := 0
	for _, r := range cur {
		if serving(r) {
			servingCur++
			if !r.reconfiguring && !bytes.Equal(r.userConfig, d.spec.UserConfig) {
				c.reconfigure(d, r)
			}
			if r.stopWatch != nil && r.watching != healthSettings(d.spec) {
				c.watch(d, r) // new health settings, same process
			}
		}
	}
	for len(old) > 0 && servingCur+len(old)-1 >= d.target {
		c.stopReplica(d, old[0])
		old = old[1:]
	}
	// A worker group with no spare slice: the new replica waits for a slice
	// that only an old one can free, so replace in place, one slice at a
	// time: capacity dips by one slice while the rest keep serving (never
	// twice the TPUs, unlike a blue/green upgrade). The next old replica
	// goes only once the new one on the freed slice serves, so capacity
	// never dips by more than that one slice.
	if len(old) > 0 && d.group != nil && c.slices.Free(d.group.Name) == 0 && !c.stoppingOld(d) && !launching(cur) {
		for _, r := range cur {
			if r.state == replica.Pending && !r.stopping {
				c.stopReplica(d, old[0])
				old = old[1:]
				break
			}
		}
	}
	// Scale down: replicas that are not serving yet go first, then the newest.
	excess := len(cur) + len(old) - d.target
	if len(old) > 0 || excess <= 0 {
		return
	}
	for i := len(cur) - 1; i >= 0 && excess > 0; i-- {
		if !serving(cur[i]) {
			c.stopReplica(d, cur[i])
			excess--
		}
	}
	for i := len(cur) - 1; i >= 0 && excess > 0; i-- {
		if !cur[i].stopping {
			c.stopReplica(d, cur[i])
			excess--
		}
	}
}

// stoppingOld reports whether an old-version replica of d is still being
// stopped (its slice not yet free).
func (c *Controller) stoppingOld(d *deploymentRun) bool {
	for _, r := range d.replicas {
		if r.stopping && r.version != d.spec.CodeVersion {
			return true
		}
	}
	return false
}

// launching reports whether a replica of rs has been launched (it holds its
// slice, if any) but does not serve yet.
func launching(rs []*replicaRun) bool {
	return slices.ContainsFunc(rs, func(r *replicaRun) bool {
		return !r.stopping && r.state == replica.Starting
	})
}

// serving reports whether r takes requests: healthy and in the pool.
func serving(r *replicaRun) bool {
	return !r.stopping && (r.state == replica.Running || r.state == replica.Updating)
}

// publishPool gives the router the deployment's running replicas.
func (c *Controller) publishPool(d *deploymentRun) {
	var pool []*router.Replica
	for _, r := range d.replicas {
		if serving(r) && r.rep != nil {
			pool = append(pool, r.rep)
		}
	}
	d.routed.SetReplicas(pool)
}

// stopAll stops every replica of d (the deployment was removed).
func (c *Controller) stopAll(d *deploymentRun) {
	d.target = 0
	for _, r := range slices.Clone(d.replicas) { // stopping may drop records
		if !r.stopping {
			c.stopReplica(d, r)
		}
	}
}

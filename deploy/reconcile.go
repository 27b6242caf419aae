package deploy

import (
	"context"
	"time"

	"gantry.dev/gantry/replica"
	"gantry.dev/gantry/router"
)

// application is the controller's record of one application.
type application struct {
	name        string
	routePrefix string
	deployments []*deployment
}

// deployment is the controller's record of one deployment: what is wanted
// and the replicas that exist.
type deployment struct {
	spec     DeploymentSpec
	rt       *router.Deployment
	replicas []*replicaRun
	target   int

	backoff   replica.Backoff // spaces out restarts while replicas keep crashing
	nextStart time.Time       // no replica starts before this (backoff)
	message   string          // last problem worth telling the user
}

// replicaRun is one replica as the controller sees it.
type replicaRun struct {
	id        string
	state     replica.State
	inst      Instance // nil until the backend has started it
	rep       *router.Replica
	startedAt time.Time
	healthyAt time.Time // zero until the first healthy check
	cancel    context.CancelFunc
	stopping  bool
}

// apply makes cfg the desired state: new deployments are created, settings
// of existing ones change in place, removed ones are stopped.
func (c *Controller) apply(cfg *Config) {
	specs := cfg.Specs(c.self)
	want := map[string]*application{}
	var routes []router.Route
	for _, s := range specs {
		app := want[s.Application]
		if app == nil {
			app = c.apps[s.Application]
			if app == nil {
				app = &application{name: s.Application}
			}
			app.routePrefix = s.RoutePrefix
			app.deployments = keepListed(app.deployments, specs, s.Application, c)
			want[s.Application] = app
		}
		d := app.find(s.Name)
		if d == nil {
			d = &deployment{spec: s}
			d.rt = router.NewDeployment(s.Application, s.Name, routing(s), c.metrics)
			app.deployments = append(app.deployments, d)
		}
		d.spec = s
		d.target = s.NumReplicas
		d.rt.Update(routing(s))
		if s.Ingress && s.RoutePrefix != "" {
			routes = append(routes, router.Route{Prefix: s.RoutePrefix, Application: s.Application, Deployment: d.rt})
		}
	}
	for name, app := range c.apps {
		if want[name] == nil {
			for _, d := range app.deployments {
				c.stopAll(d)
			}
		}
	}
	c.apps = want
	c.router.Publish(router.NewTable(routes))
}

// keepListed returns the deployments of app that specs still lists and
// stops the others.
func keepListed(ds []*deployment, specs []DeploymentSpec, app string, c *Controller) []*deployment {
	var kept []*deployment
	for _, d := range ds {
		listed := false
		for _, s := range specs {
			if s.Application == app && s.Name == d.spec.Name {
				listed = true
			}
		}
		if listed {
			kept = append(kept, d)
		} else {
			c.stopAll(d)
		}
	}
	return kept
}

func (a *application) find(name string) *deployment {
	for _, d := range a.deployments {
		if d.spec.Name == name {
			return d
		}
	}
	return nil
}

// routing derives the router's settings from a deployment spec.
func routing(s DeploymentSpec) router.Settings {
	return router.Settings{
		MaxOngoingRequests: s.MaxOngoingRequests,
		MaxQueuedRequests:  s.MaxQueuedRequests,
		RequestTimeout:     s.RequestTimeout,
		Idempotent:         s.Idempotent,
	}
}

// reconcile starts and stops replicas until every deployment has its target.
func (c *Controller) reconcile() {
	now := c.now()
	for _, app := range c.apps {
		for _, d := range app.deployments {
			c.reconcileDeployment(d, now)
		}
	}
}

func (c *Controller) reconcileDeployment(d *deployment, now time.Time) {
	alive := 0
	for _, r := range d.replicas {
		if !r.stopping {
			alive++
		}
	}
	for ; alive < d.target && !now.Before(d.nextStart); alive++ {
		c.startReplica(d, now)
	}
	// Scale down: stop replicas that are not yet serving first, then the newest.
	for i := len(d.replicas) - 1; i >= 0 && alive > d.target; i-- {
		if r := d.replicas[i]; !r.stopping && r.state != replica.Running {
			c.stopReplica(d, r)
			alive--
		}
	}
	for i := len(d.replicas) - 1; i >= 0 && alive > d.target; i-- {
		if r := d.replicas[i]; !r.stopping {
			c.stopReplica(d, r)
			alive--
		}
	}
}

// publishPool gives the router the deployment's running replicas.
func (c *Controller) publishPool(d *deployment) {
	var pool []*router.Replica
	for _, r := range d.replicas {
		if r.state == replica.Running && !r.stopping && r.rep != nil {
			pool = append(pool, r.rep)
		}
	}
	d.rt.SetReplicas(pool)
}

// stopAll stops every replica of d (the deployment was removed).
func (c *Controller) stopAll(d *deployment) {
	d.target = 0
	for _, r := range d.replicas {
		if !r.stopping {
			c.stopReplica(d, r)
		}
	}
}

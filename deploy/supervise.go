package deploy

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/replica"
	"gantry.dev/gantry/router"
)

// eventKind is what a supervisor reports about its replica.
type eventKind int

const (
	evStarted      eventKind = iota // the backend started it (or failed to: err)
	evReady                         // first healthy check
	evFailed                        // exited or failed its health checks
	evStopped                       // stopped and gone
	evReconfigured                  // POST /-/reconfigure answered (or failed: err)
	evBuilt                         // an import_path application's graph was built (or not: err)
)

type event struct {
	kind eventKind
	d    *deploymentRun
	r    *replicaRun
	inst Instance
	err  error
	sent json.RawMessage // the user_config sent, for evReconfigured

	// For evBuilt: the application, which of its builds, and its result.
	app   string
	seq   uint64
	built *built
}

// startupReport is how long a replica may stay STARTING before the
// controller reports it with its last log lines (it keeps waiting).
const startupReport = 30 * time.Second

func (c *Controller) send(ev event) { c.events <- ev }

// startReplica creates a replica record and, once it holds a TPU slice (if
// its deployment needs one; else at once), launches it: a supervisor starts
// the process and waits for its first healthy check, then the loop watches
// it. Without a free slice the replica waits in PENDING.
func (c *Controller) startReplica(d *deploymentRun, now time.Time) *replicaRun {
	s := d.spec
	ctx, cancel := context.WithCancel(context.Background())
	r := &replicaRun{
		id: c.replicaID(s.Application, s.Name), version: s.CodeVersion, userConfig: s.UserConfig,
		state: replica.Starting, startedAt: now, ctx: ctx, cancel: cancel, slice: -1,
	}
	d.replicas = append(d.replicas, r)
	if c.takeSlice(d, r) {
		c.launch(d, r)
		c.record(EventReplicaStarting, "info", d, r, "starting a replica of version "+r.version)
	} else {
		c.record(EventReplicaPending, "warning", d, r, "waiting for a free TPU slice in worker group "+d.group.Name)
	}
	return r
}

// launch starts r's supervisor.
func (c *Controller) launch(d *deploymentRun, r *replicaRun) {
	s := d.spec
	r.state = replica.Starting
	spec := ReplicaSpec{
		ID: r.id, Application: s.Application, Deployment: s.Name,
		Command: s.Command, Env: c.replicaEnv(s.Env), WorkingDir: s.WorkingDir, UserConfig: s.UserConfig,
		Version: s.CodeVersion, Image: s.Image, Resources: d.config.RayActorOptions, Slice: -1,
		Grace: s.GracefulShutdownTimeout,
	}
	placement(&spec, d.group, r.slice)
	checker := c.checker(s)
	c.spawn(func() {
		c.supervise(r.ctx, d, r, spec, checker)
	})
}

// placePending launches PENDING replicas of d for which a slice is free.
func (c *Controller) placePending(d *deploymentRun) {
	for _, r := range d.replicas {
		if r.state == replica.Pending && !r.stopping && c.takeSlice(d, r) {
			c.launch(d, r)
			c.record(EventReplicaStarting, "info", d, r, fmt.Sprintf("starting on TPU slice %s-%d", r.group, r.slice))
		}
	}
}

// forget drops a replica that has no process (any more): it leaves the
// deployment's records and gives back its slice.
func (c *Controller) forget(d *deploymentRun, r *replicaRun) {
	r.cancel()
	c.releaseSlice(r)
	d.replicas = slices.DeleteFunc(d.replicas, func(x *replicaRun) bool { return x == r })
}

// checker returns a health checker with the deployment's settings.
func (c *Controller) checker(s config.DeploymentSpec) *replica.Checker {
	ch := &replica.Checker{
		Client: c.health, Clock: c.clock, Path: s.HealthPath,
		Period: s.HealthCheckPeriod, Timeout: s.HealthCheckTimeout, FailureThreshold: 3,
	}
	if s.Protocol == "grpc" {
		ch.Prober = replica.GRPCProber{}
	}
	return ch
}

// watch checks a running replica's health until it fails or the watch is
// cancelled: when the replica stops, or to restart the watch with new
// health settings (health_check_period_s and _timeout_s change in place).
func (c *Controller) watch(d *deploymentRun, r *replicaRun) {
	if r.stopWatch != nil {
		r.stopWatch()
	}
	ctx, cancel := context.WithCancel(r.ctx)
	r.stopWatch, r.watching = cancel, healthSettings(d.spec)
	checker, addr, exited := c.checker(d.spec), r.inst.Address(), r.inst.Done()
	c.spawn(func() {
		if err := checker.Watch(ctx, addr, exited); err != nil && ctx.Err() == nil {
			c.send(event{kind: evFailed, d: d, r: r, err: err})
		}
	})
}

// healthSettings are the settings a watch runs with.
func healthSettings(s config.DeploymentSpec) [2]time.Duration {
	return [2]time.Duration{s.HealthCheckPeriod, s.HealthCheckTimeout}
}

// supervise runs one replica's life until it fails or ctx is cancelled
// (the controller stops it).
func (c *Controller) supervise(ctx context.Context, d *deploymentRun, r *replicaRun, spec ReplicaSpec, checker *replica.Checker) {
	startCtx, cancelStart := context.WithTimeout(ctx, 30*time.Second)
	inst, err := c.backend.Start(startCtx, spec)
	cancelStart()
	c.send(event{kind: evStarted, d: d, r: r, inst: inst, err: err})
	if err != nil {
		return
	}
	c.awaitReady(ctx, d, r, inst, checker, spec.Command)
}

// awaitReady waits for a started replica's members to be placed (see
// PlacedInstance) and for the first healthy check of each member, and
// reports either.
func (c *Controller) awaitReady(ctx context.Context, d *deploymentRun, r *replicaRun, inst Instance, checker *replica.Checker, command []string) {
	if p, ok := inst.(PlacedInstance); ok {
		select {
		case <-p.Placed():
		case <-inst.Done():
		case <-ctx.Done():
			return
		}
	}
	readyCtx, cancelReady := context.WithCancel(ctx)
	c.spawn(func() {
		select {
		case <-c.clock.After(startupReport):
			c.log.Warn("replica is not healthy yet", "replica", r.id, "waited", startupReport,
				"command", command, "last_log_lines", strings.Join(tail(inst), "\n"))
		case <-readyCtx.Done():
		}
	})
	// Every member of a multi-host replica serves before the replica is
	// RUNNING, though traffic goes to host 0 only: a slice whose other
	// hosts have not come up cannot run a sharded model.
	err := checker.WaitReady(readyCtx, inst.Address(), inst.Done())
	for _, m := range inst.Members() {
		if err != nil {
			break
		}
		if m.Address != "" && m.Address != inst.Address() {
			err = checker.WaitReady(readyCtx, m.Address, inst.Done())
		}
	}
	cancelReady()
	if err != nil {
		if ctx.Err() == nil {
			c.send(event{kind: evFailed, d: d, r: r, err: err})
		}
		return
	}
	c.send(event{kind: evReady, d: d, r: r})
}

// handle applies a supervisor's report.
func (c *Controller) handle(ev event) {
	c.touch()
	d, r := ev.d, ev.r
	switch ev.kind {
	case evBuilt:
		c.built(ev)
	case evStarted:
		if ev.err != nil {
			c.failed(d, r, fmt.Errorf("starting replica: %w", ev.err))
			c.forget(d, r) // no process to stop
			return
		}
		r.inst = ev.inst
		if r.stopping { // stopped while starting: finish the stop now
			c.finishStop(d, r)
		}
	case evReady:
		if r.stopping {
			return
		}
		r.state = replica.Running
		r.healthyAt = c.now()
		d.startFailures = 0
		r.rep = router.NewReplica(r.id, r.inst.Address(), router.ReplicaOptions{
			Now: c.now, AfterFunc: c.clock.AfterFunc, Protocol: d.spec.Protocol,
		})
		c.log.Info("replica running", "replica", r.id, "address", r.inst.Address(),
			"startup", c.now().Sub(r.startedAt).Round(time.Millisecond))
		c.record(EventReplicaHealthy, "info", d, r, fmt.Sprintf("healthy after %v; taking traffic at %s",
			c.now().Sub(r.startedAt).Round(time.Millisecond), r.inst.Address()))
		c.watch(d, r)
		c.publishPool(d)
	case evFailed:
		if !r.stopping {
			c.failed(d, r, ev.err)
		}
	case evReconfigured:
		r.reconfiguring = false
		switch {
		case r.stopping:
		case errors.Is(ev.err, replica.ErrReconfigureUnsupported):
			// Replace it in a rolling way; the new one reads the new config at start.
			c.log.Info("replica cannot reconfigure in place; replacing it", "replica", r.id)
			r.version, r.state = "", replica.Running
		case ev.err != nil:
			c.record(EventReplicaFailed, "error", d, r, "reconfigure failed: "+ev.err.Error())
			c.failed(d, r, ev.err)
		default:
			r.userConfig, r.state = ev.sent, replica.Running
			c.log.Info("replica reconfigured", "replica", r.id)
		}
	case evStopped:
		c.record(EventReplicaStopped, "info", d, r, "stopped")
		c.forget(d, r)
	}
}

// reconfigure sends the deployment's user_config to r in the background;
// r keeps serving meanwhile, in state UPDATING.
func (c *Controller) reconfigure(d *deploymentRun, r *replicaRun) {
	c.touch()
	r.reconfiguring, r.state = true, replica.Updating
	sent, addr, timeout := d.spec.UserConfig, r.inst.Address(), d.spec.HealthCheckTimeout
	grpcReplica := d.spec.Protocol == "grpc"
	c.spawn(func() {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		err := replica.ErrReconfigureUnsupported // a gRPC replica has no POST /-/reconfigure: replace it
		if !grpcReplica {
			err = replica.Reconfigure(ctx, c.health, addr, sent)
		}
		cancel()
		c.send(event{kind: evReconfigured, d: d, r: r, err: err, sent: sent})
	})
}

// failed takes a failed replica out of service, stops what is left of it,
// and delays the next start by the crash backoff.
func (c *Controller) failed(d *deploymentRun, r *replicaRun, err error) {
	now := c.now()
	wait := d.backoff.Next(now, r.healthyAt)
	d.nextStart = now.Add(wait)
	var exit string
	if r.inst != nil && r.inst.Err() != nil {
		exit = r.inst.Err().Error()
	}
	lines := tail(r.inst)
	d.message = failureMessage(r, err, exit)
	if len(lines) > 0 {
		d.message += "; last log lines:\n" + strings.Join(lines, "\n")
	}
	if r.healthyAt.IsZero() {
		d.startFailures++
		if d.startFailures >= deployFailedAfter(d.target) && d.trigger != TriggerDeleting {
			d.status, d.trigger = DeploymentDeployFailed, TriggerReplicaStartupFailed
			d.message = fmt.Sprintf("%d replicas in a row failed to start; the last: %s", d.startFailures, d.message)
		}
	} else if d.status == DeploymentHealthy {
		d.status, d.trigger = DeploymentUnhealthy, TriggerHealthCheckFailed
	}
	next := nextStartText(d, r, wait)
	c.log.Error("replica failed", "replica", r.id, "err", err, "exit", exit,
		"next", next, "last_log_lines", strings.Join(lines, "\n"))
	msg := err.Error()
	if exit != "" && !strings.Contains(msg, exit) {
		msg += " (" + exit + ")"
	}
	c.recordFailure(d, r, msg+"; "+next)
	r.state = replica.Recovering
	c.stopReplica(d, r)
}

// nextStartText says what follows the failure of r: the next start after
// the backoff wait only when reconcile will start one (the deployment
// has not given up and wants more replicas than it keeps without r).
func nextStartText(d *deploymentRun, r *replicaRun, wait time.Duration) string {
	switch {
	case d.status == DeploymentDeployFailed:
		return "the deployment is DEPLOY_FAILED: no replica will start until the config changes"
	case d.trigger == TriggerDeleting:
		return "not restarted: the deployment is being deleted"
	}
	kept := 0
	for _, x := range d.replicas {
		if x != r && !x.stopping && x.version == d.spec.CodeVersion {
			kept++
		}
	}
	if kept >= d.target {
		return fmt.Sprintf("not restarted: %d replicas of the current version remain for a target of %d", kept, d.target)
	}
	return fmt.Sprintf("next start in %v", wait.Round(time.Millisecond))
}

// failureMessage says how r failed: with its exit status ("exit status 3",
// "signal: killed") when its process ended, else with err (a failed start
// or health check).
func failureMessage(r *replicaRun, err error, exit string) string {
	early := ""
	if r.healthyAt.IsZero() {
		early = " before becoming healthy"
	}
	if exit != "" && errors.Is(err, replica.ErrExited) {
		return fmt.Sprintf("replica %s exited with %s%s", r.id, exit, early)
	}
	if exit != "" {
		return fmt.Sprintf("replica %s failed%s: %v (then exited with %s)", r.id, early, err, exit)
	}
	return fmt.Sprintf("replica %s failed%s: %v", r.id, early, err)
}

// stopReplica takes r out of routing and stops it in the background:
// drain in-flight requests (up to graceful_shutdown_timeout_s), SIGTERM,
// SIGKILL after the same timeout.
func (c *Controller) stopReplica(d *deploymentRun, r *replicaRun) {
	if r.stopping {
		return
	}
	r.stopping = true
	c.record(EventReplicaDraining, "info", d, r, stopReason(d, r))
	if r.state != replica.Recovering {
		r.state = replica.Stopping
	}
	c.publishPool(d)
	switch {
	case r.inst != nil:
		c.finishStop(d, r)
	case r.state == replica.Pending:
		c.forget(d, r) // never launched: nothing to stop
	}
	// Otherwise the backend is still starting it; evStarted finishes the stop.
}

func (c *Controller) finishStop(d *deploymentRun, r *replicaRun) {
	grace := d.spec.GracefulShutdownTimeout
	inst, rep, detached := r.inst, r.rep, c.detached()
	c.spawn(func() {
		r.cancel() // stop health checks
		if rep != nil {
			ctx, cancel := context.WithTimeout(context.Background(), grace)
			select {
			case <-inst.Done(): // nothing to drain from a dead process
			default:
				rep.Drain(ctx)
			}
			cancel()
			rep.Close()
		}
		if detached { // another gateway owns it now, or will
			c.events <- event{kind: evStopped, d: d, r: r}
			return
		}
		if err := inst.Stop(grace); err != nil {
			c.log.Warn("stopping replica", "replica", r.id, "err", err)
		}
		c.events <- event{kind: evStopped, d: d, r: r}
	})
}

// shutdown stops every replica and waits for all of them to be gone.
func (c *Controller) shutdown() {
	c.shuttingDown = true
	for _, app := range c.apps {
		if p := app.python; p != nil && p.cancel != nil {
			p.cancel()
		}
		for _, d := range app.deployments {
			c.stopAll(d)
		}
	}
	// Handling an event may start another goroutine (a replica that was
	// starting is stopped once it has started), so the loop ends only when
	// none runs and no event is left.
	for {
		if c.live.Load() == 0 {
			// Every goroutine sent its events before it ended.
			select {
			case ev := <-c.events:
				c.handle(ev)
				continue
			default:
				c.publishStatus()
				return
			}
		}
		select {
		case ev := <-c.events:
			c.handle(ev)
		case <-c.idle:
		}
	}
}

// spawn runs f in a goroutine that shutdown waits for. Every goroutine
// the controller starts goes through it.
func (c *Controller) spawn(f func()) {
	c.live.Add(1)
	go func() {
		defer func() {
			if c.live.Add(-1) == 0 {
				select {
				case c.idle <- struct{}{}:
				default:
				}
			}
		}()
		f()
	}()
}

// tail returns the last log lines of inst, if any.
func tail(inst Instance) []string {
	if inst == nil {
		return nil
	}
	return inst.LogTail(20)
}

// replicaEnv is a deployment's env with the controller's ReplicaEnv added.
func (c *Controller) replicaEnv(env map[string]string) map[string]string {
	if len(c.env) == 0 {
		return env
	}
	out := maps.Clone(env)
	if out == nil {
		out = map[string]string{}
	}
	maps.Copy(out, c.env)
	return out
}

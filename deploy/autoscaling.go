package deploy

import (
	"fmt"
	"time"

	"gantry.dev/gantry/autoscale"
	"gantry.dev/gantry/deploy/config"
)

// scaler is a deployment's autoscaling state, owned by the control loop.
type scaler struct {
	cfg       autoscale.Config
	aggregate string // aggregation_function: mean, max or min
	window    *autoscale.Window
	state     autoscale.State
	decision  autoscale.Decision // the last one, for status and metrics
	load      float64            // the averaged load the last decision saw
}

// policyConfig converts a resolved autoscaling_config.
func policyConfig(a *config.AutoscalingConfig) autoscale.Config {
	return autoscale.Config{
		MinReplicas:           *a.MinReplicas,
		MaxReplicas:           *a.MaxReplicas,
		InitialReplicas:       *a.InitialReplicas,
		TargetOngoingRequests: *a.TargetOngoingRequests,
		UpscaleDelay:          seconds(*a.UpscaleDelayS),
		DownscaleDelay:        seconds(*a.DownscaleDelayS),
		DownscaleToZeroDelay:  seconds(*a.DownscaleToZeroDelayS),
		UpscalingFactor:       *a.UpscalingFactor,
		DownscalingFactor:     *a.DownscalingFactor,
		LookBackPeriod:        seconds(*a.LookBackPeriodS),
	}
}

// configureScaling sets d's autoscaling from its spec: on for a deployment
// with autoscaling_config (or num_replicas: auto), off otherwise. A new
// autoscaling deployment starts at initial_replicas; one that already runs
// keeps its target, within the new bounds.
func (d *deploymentRun) configureScaling(isNew bool) {
	if d.spec.Autoscaling == nil {
		d.scaler = nil
		return
	}
	cfg := policyConfig(d.spec.Autoscaling)
	if d.scaler == nil || d.scaler.cfg.LookBackPeriod != cfg.LookBackPeriod {
		d.scaler = &scaler{window: autoscale.NewWindow(cfg.LookBackPeriod)}
	}
	d.scaler.cfg, d.scaler.aggregate = cfg, d.spec.Autoscaling.AggregationFunction
	if isNew {
		d.target = cfg.InitialReplicas
	} else {
		d.target = min(max(d.target, cfg.MinReplicas), cfg.MaxReplicas)
	}
}

// autoscale samples the deployment's load from its router (requests in
// flight plus queued) and moves the target when the policy says so.
func (c *Controller) autoscale(d *deploymentRun, now time.Time) {
	s := d.scaler
	if s == nil || d.trigger == TriggerDeleting {
		return
	}
	queued := d.routed.Queued()
	s.window.Add(now, float64(d.routed.Inflight()+queued))
	switch s.aggregate {
	case "max":
		s.load = s.window.Max(now)
	case "min":
		s.load = s.window.Min(now)
	default:
		s.load = s.window.Average(now)
	}
	running, floor := 0, 0
	for _, r := range d.replicas {
		if serving(r) {
			running++
			if r.version != d.spec.CodeVersion {
				floor = d.target // a rollout is under way: no scaling down until it ends
			}
		}
	}
	ceiling := 0 // no limit but max_replicas
	if g := d.group; g != nil {
		// Never ask for more slices than the group can give this deployment.
		ceiling = max(1, c.slices.Free(g.Name)+c.slices.Owned(g.Name, d.spec.Application+"#"+d.spec.Name+"#"))
	}
	dec, st := autoscale.Decide(s.cfg, autoscale.Input{
		Now: now, Running: running, Target: d.target, Load: s.load, Queued: int(queued), Floor: floor, Ceiling: ceiling,
	}, s.state)
	s.state, s.decision = st, dec
	if dec.Target == d.target {
		return
	}
	c.log.Info("autoscaling", "application", d.spec.Application, "deployment", d.spec.Name,
		"from", d.target, "to", dec.Target, "reason", dec.Reason)
	if dec.Target > d.target {
		d.status = DeploymentUpscaling
	} else {
		d.status = DeploymentDownscaling
	}
	c.record(EventScaled, "info", d, nil, fmt.Sprintf("%d → %d replicas: %s", d.target, dec.Target, dec.Reason))
	d.trigger, d.message, d.target = TriggerAutoscaling, dec.Reason, dec.Target
}

// seconds converts seconds from the config into a Duration.
func seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

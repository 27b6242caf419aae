package deploy

import (
	"strings"
)

// A deployment that will have no replica soon must not let requests queue
// until request_timeout_s: the controller tells its router.Deployment why
// (SetUnavailable), and requests that find no free replica are answered at
// once with that reason. Requests keep queueing whenever a replica may
// come: one serves, is starting or waits for a slice, a crashed one will be
// restarted after its backoff, or the deployment scales from zero on the
// request itself (autoscaling with min_replicas 0).

// unavailableReason says why d will have no replica soon, in the user's
// terms, or "" when one may come.
func unavailableReason(app *appRun, d *deploymentRun) string {
	for _, r := range d.replicas {
		if !r.stopping {
			return "" // serving, starting or pending: it may take the request
		}
	}
	name := "deployment " + d.spec.Application + "/" + d.spec.Name
	switch {
	case app.deleting:
		return "application " + app.name + " is being deleted"
	case d.status == DeploymentDeployFailed:
		// The status message without the replica's log lines: those are
		// for the operator (the REST API, the dashboard), not for clients.
		cause, _, _ := strings.Cut(d.message, "; last log lines:")
		return name + " is DEPLOY_FAILED: " + cause + "; no replica will start until the config changes"
	case d.target == 0 && d.scaler == nil:
		return name + " has num_replicas: 0 and no autoscaling_config"
	}
	return ""
}

// syncAvailability tells d's router whether replicas may come (see
// unavailableReason); it runs on every pass, after the status is derived.
func (c *Controller) syncAvailability(app *appRun, d *deploymentRun) {
	d.routed.SetUnavailable(unavailableReason(app, d))
}

package kubernetes

import (
	"context"
	"encoding/json"
	"reflect"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/replica"
)

// Service statuses: Ray's application-level words as the whole service sees
// them.
const (
	StatusRunning      = "Running"
	StatusDeploying    = "Deploying"
	StatusDeployFailed = "DeployFailed"
	StatusUnhealthy    = "Unhealthy"
)

// Condition types.
const (
	ConditionReady             = "Ready"
	ConditionUpgradeInProgress = "UpgradeInProgress"
)

// writeStatus writes the status of every GantryService whose status
// differs from what the controller shows.
func (s *Services) writeStatus(ctx context.Context) {
	snap := s.o.Controller.Snapshot()
	now := metav1.NewTime(s.o.Now().Truncate(time.Second))
	for _, u := range s.objects() {
		s.mu.Lock()
		svc := s.svcs[u.GetName()]
		s.mu.Unlock()
		if svc == nil || svc.uid != u.GetUID() {
			continue
		}
		old, _, _ := unstructured.NestedMap(u.Object, "status")
		want := statusOf(svc, *snap, old, now)
		if equalJSON(old, want) {
			continue
		}
		obj := u.DeepCopy()
		obj.Object["status"] = want
		wctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		_, err := s.o.Dynamic.Resource(GantryServices).Namespace(s.o.Namespace).UpdateStatus(wctx, obj, metav1.UpdateOptions{})
		cancel()
		if err != nil && ctx.Err() == nil {
			s.log.Warn("writing GantryService status", "name", svc.name, "err", err)
		}
	}
}

// statusOf computes a GantryService's status from the controller's
// snapshot; old is the status it has (for condition transition times).
func statusOf(svc *service, snap deploy.Snapshot, old map[string]any, now metav1.Time) map[string]any {
	mine := map[string]bool{}
	if svc.accepted != nil {
		for _, a := range svc.accepted.Applications {
			mine[a.EffectiveName()] = true
		}
	}
	apps := map[string]any{}
	endpoints, upgrading, found := 0, false, 0
	overall := StatusRunning
	var messages []string
	for _, a := range snap.Applications {
		if !mine[a.Name] {
			continue
		}
		found++
		deps := map[string]any{}
		for _, d := range a.Deployments {
			counts := map[string]any{}
			for _, r := range d.Replicas {
				counts[string(r.State)] = toInt(counts[string(r.State)]) + 1
				if r.State == replica.Running || r.State == replica.Updating {
					endpoints++
				}
				if r.Version != d.Spec.CodeVersion {
					upgrading = true
				}
			}
			if d.Status == deploy.DeploymentUpdating {
				upgrading = true
			}
			deps[d.Deployment] = map[string]any{"status": string(d.Status), "message": d.Message, "replicas": counts}
		}
		apps[a.Name] = map[string]any{"status": string(a.Status), "message": a.Message, "deployments": deps}
		if a.Message != "" {
			messages = append(messages, a.Name+": "+a.Message)
		}
		overall = worse(overall, a.Status)
	}
	if found < len(mine) {
		overall = worse(overall, deploy.AppDeploying)
	}
	if svc.accepted == nil {
		overall = StatusDeployFailed
	}
	ready := condition(ConditionReady, metav1.ConditionFalse, overall, strings.Join(messages, "\n"), svc.generation)
	switch {
	case svc.problem != "":
		ready.Reason, ready.Message = "ValidationFailed", svc.problem
	case overall == StatusRunning && endpoints > 0:
		ready.Status, ready.Reason = metav1.ConditionTrue, "NonZeroServeEndpoints"
	case overall == StatusRunning:
		ready.Reason = "ZeroServeEndpoints"
	}
	up := condition(ConditionUpgradeInProgress, metav1.ConditionFalse, "NoUpgrade", "", svc.generation)
	if upgrading {
		up.Status, up.Reason, up.Message = metav1.ConditionTrue, "RollingUpdate", "replicas are being replaced or updated"
	}
	oldConds := conditionsOf(old)
	var conds []any
	for _, c := range []metav1.Condition{ready, up} {
		c.LastTransitionTime = now
		if o, ok := oldConds[c.Type]; ok && o.Status == c.Status {
			c.LastTransitionTime = o.LastTransitionTime
		}
		conds = append(conds, toMap(c))
	}
	return map[string]any{
		"serviceStatus":      overall,
		"numServeEndpoints":  int64(endpoints),
		"observedGeneration": svc.generation,
		"applications":       apps,
		"conditions":         conds,
	}
}

func condition(typ string, status metav1.ConditionStatus, reason, msg string, gen int64) metav1.Condition {
	return metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: gen}
}

// worse combines the service's status with one application's.
func worse(cur string, a deploy.AppState) string {
	rank := map[string]int{StatusRunning: 0, StatusDeploying: 1, StatusUnhealthy: 2, StatusDeployFailed: 3}
	var s string
	switch a {
	case deploy.AppRunning:
		s = StatusRunning
	case deploy.AppDeployFailed:
		s = StatusDeployFailed
	case deploy.AppUnhealthy:
		s = StatusUnhealthy
	default:
		s = StatusDeploying
	}
	if rank[s] > rank[cur] {
		return s
	}
	return cur
}

func conditionsOf(status map[string]any) map[string]metav1.Condition {
	out := map[string]metav1.Condition{}
	list, _ := status["conditions"].([]any)
	for _, x := range list {
		var c metav1.Condition
		if fromMap(x, &c) == nil {
			out[c.Type] = c
		}
	}
	return out
}

func toInt(v any) int64 {
	n, _ := v.(int64)
	return n
}

func toMap(v any) map[string]any {
	var m map[string]any
	js, _ := json.Marshal(v)
	json.Unmarshal(js, &m)
	return m
}

func fromMap(m any, v any) error {
	js, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return json.Unmarshal(js, v)
}

// equalJSON compares two values as JSON documents.
func equalJSON(a, b any) bool {
	var x, y any
	if fromMap(a, &x) != nil || fromMap(b, &y) != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

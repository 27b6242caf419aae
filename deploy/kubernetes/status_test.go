package kubernetes

import (
	"encoding/json"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/replica"
)

func snapshot(states ...replica.State) deploy.Snapshot {
	d := deploy.DeploymentStatus{Application: "art", Deployment: "painter", Status: deploy.DeploymentHealthy,
		Spec: config.DeploymentSpec{CodeVersion: "v1"}}
	for _, s := range states {
		d.Replicas = append(d.Replicas, deploy.ReplicaStatus{State: s, Version: "v1"})
	}
	app := deploy.AppStatus{Name: "art", Status: deploy.AppRunning, Deployments: []deploy.DeploymentStatus{d}}
	for _, s := range states {
		if s != replica.Running {
			app.Status, app.Deployments[0].Status = deploy.AppDeploying, deploy.DeploymentUpdating
		}
	}
	return deploy.Snapshot{Applications: []deploy.AppStatus{app}}
}

// roundTrip is what the API gives back: the status as JSON.
func roundTrip(t *testing.T, m map[string]any) map[string]any {
	var out map[string]any
	b, _ := json.Marshal(m)
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// Status is written only when it changed: computed again from the same
// snapshot, later, it equals what is stored (condition transition times
// are kept); a change moves only the conditions that changed.
func TestStatusIsStableUntilSomethingChanges(t *testing.T) {
	svc := &service{name: "s", generation: 3, accepted: &config.Config{Applications: []config.Application{{Name: "art"}}}}
	t0 := metav1.NewTime(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Minute))

	first := statusOf(svc, snapshot(replica.Running, replica.Running), nil, t0)
	stored := roundTrip(t, first)
	if again := statusOf(svc, snapshot(replica.Running, replica.Running), stored, t1); !equalJSON(stored, again) {
		t.Errorf("same snapshot, later: status differs, so it would be written again:\n%v\n%v", stored, again)
	}
	if first["serviceStatus"] != "Running" || first["numServeEndpoints"] != int64(2) || first["observedGeneration"] != int64(3) {
		t.Errorf("status %v, want Running, 2 endpoints, generation 3", first)
	}

	changed := statusOf(svc, snapshot(replica.Running, replica.Starting), stored, t1)
	if equalJSON(stored, changed) {
		t.Fatal("a replica starting did not change the status")
	}
	conds := conditionsOf(roundTrip(t, changed))
	if r := conds[ConditionReady]; r.Status != metav1.ConditionFalse || !r.LastTransitionTime.Equal(&t1) || r.ObservedGeneration != 3 {
		t.Errorf("Ready after a change: %+v, want False since %s at generation 3", r, t1)
	}
	if u := conds[ConditionUpgradeInProgress]; u.Status != metav1.ConditionTrue || !u.LastTransitionTime.Equal(&t1) {
		t.Errorf("UpgradeInProgress while a deployment updates: %+v, want True since %s", u, t1)
	}
	if changed["serviceStatus"] != "Deploying" || changed["numServeEndpoints"] != int64(1) {
		t.Errorf("status %v, want Deploying with 1 endpoint", changed)
	}
}

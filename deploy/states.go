package deploy

// AppState is an application's status, with Ray Serve's values.
type AppState string

// Application states.
const (
	AppNotStarted   AppState = "NOT_STARTED"
	AppDeploying    AppState = "DEPLOYING"
	AppDeployFailed AppState = "DEPLOY_FAILED"
	AppRunning      AppState = "RUNNING"
	AppUnhealthy    AppState = "UNHEALTHY"
	AppDeleting     AppState = "DELETING"
)

// DeploymentState is a deployment's status, with Ray Serve's values.
type DeploymentState string

// Deployment states.
const (
	DeploymentUpdating     DeploymentState = "UPDATING"
	DeploymentHealthy      DeploymentState = "HEALTHY"
	DeploymentUnhealthy    DeploymentState = "UNHEALTHY"
	DeploymentDeployFailed DeploymentState = "DEPLOY_FAILED"
	DeploymentUpscaling    DeploymentState = "UPSCALING"
	DeploymentDownscaling  DeploymentState = "DOWNSCALING"
)

// Trigger says what caused a deployment's last status change, with Ray
// Serve's values.
type Trigger string

// Status triggers.
const (
	TriggerUnspecified           Trigger = "UNSPECIFIED"
	TriggerConfigUpdateStarted   Trigger = "CONFIG_UPDATE_STARTED"
	TriggerConfigUpdateCompleted Trigger = "CONFIG_UPDATE_COMPLETED"
	TriggerUpscaleCompleted      Trigger = "UPSCALE_COMPLETED"
	TriggerDownscaleCompleted    Trigger = "DOWNSCALE_COMPLETED"
	TriggerAutoscaling           Trigger = "AUTOSCALING"
	TriggerReplicaStartupFailed  Trigger = "REPLICA_STARTUP_FAILED"
	TriggerHealthCheckFailed     Trigger = "HEALTH_CHECK_FAILED"
	TriggerInternalError         Trigger = "INTERNAL_ERROR"
	TriggerDeleting              Trigger = "DELETING"
)

// appState rolls deployment states up the way Ray does: DEPLOY_FAILED over
// UNHEALTHY over UPDATING over healthy.
func appState(ds []DeploymentStatus) AppState {
	state := AppRunning
	for _, d := range ds {
		switch d.Status {
		case DeploymentDeployFailed:
			return AppDeployFailed
		case DeploymentUnhealthy:
			state = AppUnhealthy
		case DeploymentUpdating:
			if state == AppRunning {
				state = AppDeploying
			}
		}
	}
	return state
}

package replica

// State is a replica's lifecycle state, named with Ray Serve's enum values.
type State string

// Replica states. All but Pending are Ray's; Pending (waiting for a TPU
// slice) shows up as Starting on Ray-shaped endpoints.
const (
	Starting   State = "STARTING"
	Updating   State = "UPDATING"
	Recovering State = "RECOVERING"
	Running    State = "RUNNING"
	Stopping   State = "STOPPING"
	Pending    State = "PENDING"
)

// States lists every state in display order.
var States = []State{Pending, Starting, Updating, Recovering, Running, Stopping}

// RayState maps s to the nearest state in Ray Serve's enum.
func (s State) RayState() State {
	if s == Pending {
		return Starting
	}
	return s
}

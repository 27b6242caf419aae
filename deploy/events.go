package deploy

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/replica"
)

// EventKind says what happened. The values are part of the REST API
// (GET /api/gantry/events).
type EventKind string

// What the controller records.
const (
	EventConfigApplied     EventKind = "CONFIG_APPLIED"      // a config was taken
	EventDeploymentUpdated EventKind = "DEPLOYMENT_UPDATED"  // a deployment's config changed
	EventReplicaStarting   EventKind = "REPLICA_STARTING"    // a new replica is being started
	EventReplicaPending    EventKind = "REPLICA_PENDING"     // a new replica waits for a TPU slice
	EventReplicaHealthy    EventKind = "REPLICA_HEALTHY"     // first healthy check: in the pool
	EventReplicaDraining   EventKind = "REPLICA_DRAINING"    // out of the pool, finishing its requests
	EventReplicaStopped    EventKind = "REPLICA_STOPPED"     // its process is gone
	EventReplicaCrashed    EventKind = "REPLICA_CRASHED"     // its process exited on its own
	EventHealthCheckFailed EventKind = "HEALTH_CHECK_FAILED" // alive but failing its health checks
	EventReplicaFailed     EventKind = "REPLICA_FAILED"      // could not be started or reconfigured
	EventScaled            EventKind = "AUTOSCALED"          // the autoscaler moved the target
	EventGraphBuilt        EventKind = "GRAPH_BUILT"         // an import_path application's code was imported
	EventBuildFailed       EventKind = "GRAPH_BUILD_FAILED"  // importing it failed
)

// Event is one thing the controller did or saw.
type Event struct {
	// Seq numbers events from 1, in order; a follower asks for those after
	// the last it saw.
	Seq         uint64    `json:"seq"`
	Time        time.Time `json:"time"`
	Kind        EventKind `json:"kind"`
	Level       string    `json:"level"` // info, warning or error
	Application string    `json:"application,omitempty"`
	Deployment  string    `json:"deployment,omitempty"`
	Replica     string    `json:"replica,omitempty"`
	Message     string    `json:"message"`
	// ExitCode is set for a crashed replica that exited with a code (not
	// for one killed by a signal).
	ExitCode *int `json:"exit_code,omitempty"`
}

// EventLog keeps the last events in a bounded ring. The controller's loop
// writes it; any goroutine may read it.
type EventLog struct {
	now func() time.Time

	mu      sync.Mutex
	ring    []Event
	next    int    // index the next event goes to once the ring is full
	seq     uint64 // of the last event
	changed chan struct{}
}

// DefaultEventLogSize is how many events the controller keeps.
const DefaultEventLogSize = 1000

// NewEventLog returns a log that keeps the last size events, stamped by now.
func NewEventLog(size int, now func() time.Time) *EventLog {
	if size < 1 {
		size = DefaultEventLogSize
	}
	if now == nil {
		now = time.Now
	}
	return &EventLog{now: now, ring: make([]Event, 0, size), changed: make(chan struct{})}
}

// Add records e, filling in Seq and Time.
func (l *EventLog) Add(e Event) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.seq++
	e.Seq, e.Time = l.seq, l.now()
	if e.Level == "" {
		e.Level = "info"
	}
	if len(l.ring) < cap(l.ring) {
		l.ring = append(l.ring, e)
	} else {
		l.ring[l.next] = e
		l.next = (l.next + 1) % len(l.ring)
	}
	close(l.changed)
	l.changed = make(chan struct{})
}

// Since returns the kept events with Seq > after, oldest first, and a
// channel that is closed when the next event is added.
func (l *EventLog) Since(after uint64) ([]Event, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Event, 0, len(l.ring))
	for i := range l.ring {
		e := l.ring[(l.next+i)%len(l.ring)]
		if e.Seq > after {
			out = append(out, e)
		}
	}
	return out, l.changed
}

// record adds an event about deployment d (and replica r, if not nil).
func (c *Controller) record(kind EventKind, level string, d *deploymentRun, r *replicaRun, msg string) {
	e := Event{Kind: kind, Level: level, Message: msg}
	if d != nil {
		e.Application, e.Deployment = d.spec.Application, d.spec.Name
	}
	if r != nil {
		e.Replica = r.id
	}
	c.eventLog.Add(e)
	c.touch()
}

// recordFailure adds the event for a failed replica: a crash with its exit
// code when its process exited (an Instance.Err with an ExitCode method,
// as *exec.ExitError has), else a failed health check or start.
func (c *Controller) recordFailure(d *deploymentRun, r *replicaRun, msg string) {
	e := Event{Level: "error", Message: msg, Application: d.spec.Application, Deployment: d.spec.Name, Replica: r.id}
	switch {
	case r.inst != nil && exited(r.inst):
		e.Kind = EventReplicaCrashed
		// *exec.ExitError has ExitCode (-1 when a signal killed the
		// process); another backend's error may have it too.
		var ec interface{ ExitCode() int }
		if errors.As(r.inst.Err(), &ec) && ec.ExitCode() >= 0 {
			code := ec.ExitCode()
			e.ExitCode = &code
		}
	case r.inst != nil:
		e.Kind = EventHealthCheckFailed
	default:
		e.Kind = EventReplicaFailed
	}
	c.eventLog.Add(e)
	c.touch()
}

// exited reports whether a member of inst has exited.
func exited(inst Instance) bool {
	select {
	case <-inst.Done():
		return true
	default:
		return false
	}
}

// Events is the controller's event log.
func (c *Controller) Events() *EventLog { return c.eventLog }

// stopReason says why r is being stopped, for the event log.
func stopReason(d *deploymentRun, r *replicaRun) string {
	switch {
	case r.state == replica.Recovering:
		return "taken out of the pool after it failed"
	case d.trigger == TriggerDeleting:
		return "draining: the application is being deleted"
	case r.version != d.spec.CodeVersion:
		return "draining: rollout to version " + d.spec.CodeVersion + " replaces this replica (version " + r.version + ")"
	case r.state == replica.Pending:
		return "no longer needed while waiting for a slice"
	default:
		return fmt.Sprintf("draining: scaling down to %d replicas", d.target)
	}
}

// updateMessage describes a deployment's config change from was to now,
// naming the fields whose change replaces replicas, e.g.
// "code changed: replica.env.FOO (version 5b4a… → 00c4…): rolling out new replicas".
func updateMessage(isNew bool, was, now config.DeploymentSpec) string {
	switch {
	case isNew:
		return "new deployment, code version " + now.CodeVersion
	case was.CodeVersion != now.CodeVersion:
		fields := now.Code.Changes(was.Code)
		const most = 5
		if len(fields) > most {
			fields = append(fields[:most], fmt.Sprintf("and %d more", len(fields)-most))
		}
		what := "code changed"
		if len(fields) > 0 {
			what += ": " + strings.Join(fields, ", ")
		}
		return what + " (version " + was.CodeVersion + " → " + now.CodeVersion + "): rolling out new replicas"
	default:
		return "settings changed: applied in place, no restart"
	}
}

// appliedMessage describes an applied config.
func appliedMessage(cfg *config.Config) string {
	if len(cfg.Applications) == 0 {
		return "config applied: no applications"
	}
	msg := "config applied: applications"
	for i, a := range cfg.Applications {
		if i > 0 {
			msg += ","
		}
		msg += " " + a.EffectiveName()
	}
	return msg
}

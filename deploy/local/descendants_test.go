package local_test

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/local"
	"gantry.dev/gantry/internal/testenv"
)

// Processes a replica starts, each marked with an environment variable they
// inherit: one left in the replica's process group, one in a session of its
// own (setsid), one double-forked (its parent exits, so it is orphaned).
const leaveDescendants = `sleep 321 & setsid sleep 322 & (setsid sleep 323 &); `

// markedReplica starts script with a unique marker in its environment, and
// SERVER naming the envserver, and returns the marker as NAME=VALUE.
func markedReplica(t *testing.T, b *local.Backend, script string, env map[string]string) (deploy.Instance, string) {
	t.Helper()
	value := strconv.FormatInt(time.Now().UnixNano(), 36)
	mark := "DESCENDANTS_MARK=" + value
	t.Cleanup(func() { killMarked(mark) }) // should the test fail
	spec := deploy.ReplicaSpec{Command: sh(script), Env: map[string]string{"DESCENDANTS_MARK": value, "SERVER": envServer}}
	maps.Copy(spec.Env, env)
	return start(t, b, spec), mark
}

// waitForCommands waits until processes carrying mark run every one of want.
func waitForCommands(t *testing.T, mark string, want ...string) {
	t.Helper()
	testenv.WaitFor(t, 10*time.Second, "processes "+strings.Join(want, ", "), func() bool {
		have := commandsWithEnv(t, mark)
		return !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(have, w) })
	})
}

// A normal stop (scale down, rollout) leaves none of the processes a
// replica started, whether they stop on SIGTERM or must be killed.
func TestStopLeavesNoDescendant(t *testing.T) {
	b, _ := newBackend(t)
	tests := []struct {
		name    string
		script  string
		want    []string
		grace   time.Duration
		wantErr string
		fast    bool // everything stops on SIGTERM, well within grace
	}{
		{
			name:    "descendants stop on TERM",
			script:  leaveDescendants + `exec "$SERVER"`,
			want:    []string{"sleep 321", "sleep 322", "sleep 323"},
			grace:   20 * time.Second,
			wantErr: "signal: terminated",
			fast:    true,
		},
		{
			name: "descendants ignore TERM",
			script: `setsid sh -c 'trap "" TERM; exec sleep 324' & ` +
				`(setsid sh -c 'trap "" TERM; exec sleep 325' &); exec "$SERVER"`,
			want:    []string{"sleep 324", "sleep 325"},
			grace:   300 * time.Millisecond,
			wantErr: "signal: terminated", // the server itself stops on TERM
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			inst, mark := markedReplica(t, b, tt.script, nil)
			getEnv(t, inst.Address())
			waitForCommands(t, mark, tt.want...)

			begin := time.Now()
			if err := inst.Stop(tt.grace); err != nil {
				t.Fatal(err)
			}
			took := time.Since(begin)
			// Stop returns once everything is gone: no poll.
			if left := commandsWithEnv(t, mark); len(left) > 0 {
				t.Fatalf("processes left after Stop: %q", left)
			}
			if err := inst.Err(); err == nil || err.Error() != tt.wantErr {
				t.Errorf("Err() = %v, want %q", err, tt.wantErr)
			}
			if tt.fast && took > tt.grace/2 {
				t.Errorf("Stop took %v: the descendants did not get SIGTERM; log:\n%s", took, strings.Join(inst.LogTail(20), "\n"))
			}
		})
	}
}

// A replica that exits by itself takes what it started with it, and its
// exit status is reported as is.
func TestExitLeavesNoDescendant(t *testing.T) {
	b, dir := newBackend(t)
	exitNow := filepath.Join(dir, "exit-now")
	inst, mark := markedReplica(t, b, leaveDescendants+`while [ ! -e "$EXIT_NOW" ]; do sleep 0.01; done; exit 3`,
		map[string]string{"EXIT_NOW": exitNow})
	waitForCommands(t, mark, "sleep 321", "sleep 322", "sleep 323")
	if err := os.WriteFile(exitNow, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	waitDone(t, inst)
	// Done closes once everything is gone: no poll.
	if left := commandsWithEnv(t, mark); len(left) > 0 {
		t.Fatalf("processes left after the replica exited: %q", left)
	}
	if err := inst.Err(); err == nil || err.Error() != "exit status 3" {
		t.Errorf("Err() = %v, want %q", err, "exit status 3")
	}
}

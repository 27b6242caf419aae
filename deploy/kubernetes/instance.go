package kubernetes

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"

	"gantry.dev/gantry/deploy"
)

// instance is one replica's pods, as the pod cache last showed them.
type instance struct {
	b     *Backend
	id    string
	names []string // pod of each host; "" if missing

	mu      sync.Mutex
	pods    []*corev1.Pod // latest seen per host; nil until seen
	err     error
	done    chan struct{}
	placed  chan struct{}
	isDone  bool
	isPlace bool
}

var _ deploy.PlacedInstance = (*instance)(nil)

func newInstance(b *Backend, id string, hosts int, names []string) *instance {
	return &instance{b: b, id: id, names: names, pods: make([]*corev1.Pod, hosts),
		done: make(chan struct{}), placed: make(chan struct{})}
}

// update takes in a new view of one of the instance's pods.
func (in *instance) update(p *corev1.Pod) {
	h := in.host(p.Name)
	if h < 0 {
		return
	}
	in.mu.Lock()
	in.pods[h] = p
	placed := true
	for _, q := range in.pods {
		placed = placed && q != nil && q.Status.PodIP != ""
	}
	if placed && !in.isPlace {
		in.isPlace = true
		close(in.placed)
	}
	in.mu.Unlock()
	switch p.Status.Phase {
	case corev1.PodFailed, corev1.PodSucceeded:
		msg := fmt.Sprintf("pod %s %s", p.Name, strings.ToLower(string(p.Status.Phase)))
		if p.Status.Reason != "" || p.Status.Message != "" {
			msg += ": " + strings.TrimSpace(p.Status.Reason+" "+p.Status.Message)
		}
		in.finish(errors.New(msg))
	}
}

// gone records that a pod was deleted.
func (in *instance) gone(p *corev1.Pod) {
	if in.host(p.Name) >= 0 {
		in.finish(fmt.Errorf("pod %s was deleted", p.Name))
	}
}

func (in *instance) host(name string) int {
	for h, n := range in.names {
		if n == name && n != "" {
			return h
		}
	}
	return -1
}

// finish records the first way the replica ended and closes Done.
func (in *instance) finish(err error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.isDone {
		return
	}
	in.isDone, in.err = true, err
	close(in.done)
}

// Address is host 0's pod IP and port, "" until the pods are placed.
func (in *instance) Address() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if !in.isPlace {
		return ""
	}
	return in.addr(0)
}

func (in *instance) addr(h int) string {
	if p := in.pods[h]; p != nil && p.Status.PodIP != "" {
		return net.JoinHostPort(p.Status.PodIP, strconv.Itoa(in.b.port))
	}
	return ""
}

// Members describes the pods, one per host.
func (in *instance) Members() []deploy.Member {
	in.mu.Lock()
	defer in.mu.Unlock()
	out := make([]deploy.Member, len(in.pods))
	for h := range in.pods {
		out[h] = deploy.Member{Host: h, Address: in.addr(h), LogPath: in.logPath(h)}
	}
	return out
}

func (in *instance) logPath(h int) string {
	return "pod/" + in.b.ns + "/" + in.names[h]
}

func (in *instance) Done() <-chan struct{}   { return in.done }
func (in *instance) Placed() <-chan struct{} { return in.placed }

func (in *instance) Err() error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if errors.Is(in.err, errStopped) {
		return nil
	}
	return in.err
}

// PendingReason is why a pod is not running yet: the scheduler's message
// (PodScheduled=False), or why its container waits (an image that cannot
// be pulled).
func (in *instance) PendingReason() string {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.isPlace {
		return ""
	}
	for _, p := range in.pods {
		if p == nil {
			continue
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse {
				return fmt.Sprintf("pod %s cannot be scheduled: %s", p.Name, strings.TrimSpace(c.Message))
			}
		}
		for _, cs := range p.Status.ContainerStatuses {
			if w := cs.State.Waiting; w != nil && w.Reason != "" && w.Reason != "ContainerCreating" {
				return fmt.Sprintf("pod %s: container %s is waiting: %s %s", p.Name, cs.Name, w.Reason, w.Message)
			}
		}
	}
	return ""
}

// Stop deletes the pods with grace as their grace period and waits for
// them to be gone; pods still there grace + 10 s later are deleted at once.
func (in *instance) Stop(grace time.Duration) error {
	in.finish(errStopped)
	defer in.b.unregister(in)
	ctx, cancel := context.WithTimeout(context.Background(), grace+30*time.Second)
	defer cancel()
	var errs []error
	for _, n := range in.names {
		if n == "" {
			continue
		}
		if err := in.b.deletePod(ctx, n, int64(grace.Seconds())); err != nil {
			errs = append(errs, fmt.Errorf("deleting pod %s: %w", n, err))
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	force := time.NewTimer(grace + 10*time.Second)
	defer force.Stop()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		left := in.left()
		if len(left) == 0 {
			return nil
		}
		select {
		case <-tick.C:
		case <-force.C:
			for _, n := range left {
				in.b.deletePod(ctx, n, 0)
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for the pods of %s (%s) to go: %w", in.id, strings.Join(left, ", "), ctx.Err())
		}
	}
}

// left returns the instance's pods the cache still holds.
func (in *instance) left() []string {
	var out []string
	for _, n := range in.names {
		if n != "" && in.b.exists(n) {
			out = append(out, n)
		}
	}
	return out
}

// LogPath names host 0's pod.
func (in *instance) LogPath() string { return in.logPath(0) }

// LogTail reads the last n lines of host 0's container log through the
// API, best effort: nil when it cannot.
func (in *instance) LogTail(n int) []string {
	if in.names[0] == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	lines := int64(n)
	rc, err := in.b.client.CoreV1().Pods(in.b.ns).GetLogs(in.names[0],
		&corev1.PodLogOptions{Container: ContainerName, TailLines: &lines, LimitBytes: ptr(int64(64 << 10))}).Stream(ctx)
	if err != nil {
		return nil
	}
	defer rc.Close()
	var out []string
	sc := bufio.NewScanner(rc)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

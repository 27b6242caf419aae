package k8stest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"
)

// minGrace is the shortest SIGTERM-to-SIGKILL wait, as the kubelet's minimum grace period.
const minGrace = 2 * time.Second

// Kubelet plays the kubelet for the pods RunPods selected. Its methods are safe for
// concurrent use.
type Kubelet struct {
	env      *Env
	ns       string
	selector string
	cancel   context.CancelFunc
	wg       sync.WaitGroup // the informer and one goroutine per started pod

	mu       sync.Mutex
	pods     map[types.UID]*podRun
	problems map[string]string // pod name → why it is not running
	stopped  bool
}

// podRun is one pod's process, from waiting for its IP to its exit.
type podRun struct {
	name     string
	cancel   context.CancelFunc // asks the process to stop (pod deleted, Kubelet stopped)
	grace    time.Duration
	proc     *process // nil until started
	stopping bool     // its pod was deleted or the Kubelet stopped
}

// RunPods plays the kubelet for pods matching selector (a label selector; "" for all) in ns:
// for each pod that is scheduled and has a pod IP in 127.0.0.0/8, it starts the first
// container's command (+args, $(VAR) expanded) as a local process with the container's
// environment (downward-API fieldRefs such as status.podIP resolved), its output in
// Dir/pods/<ns>_<pod>.log, its working directory the container's workingDir or a fresh
// directory. When the pod is deleted, or the Kubelet stopped, it sends SIGTERM to the
// process and SIGKILL after the pod's grace period. A pod whose IP is outside 127.0.0.0/8 is
// refused (see Problems): no test traffic may leave this machine. A process that exits is
// not restarted. A new pod that reuses the IP of a pod still stopping waits for that
// process to exit first.
func (e *Env) RunPods(ctx context.Context, ns, selector string) *Kubelet {
	ctx, cancel := context.WithCancel(ctx)
	k := &Kubelet{
		env:      e,
		ns:       ns,
		selector: selector,
		cancel:   cancel,
		pods:     map[types.UID]*podRun{},
		problems: map[string]string{},
	}
	factory := informers.NewSharedInformerFactoryWithOptions(e.Client, 0,
		informers.WithNamespace(ns),
		informers.WithTweakListOptions(func(o *metav1.ListOptions) { o.LabelSelector = selector }))
	inf := factory.Core().V1().Pods().Informer()
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { k.sync(ctx, obj) },
		UpdateFunc: func(_, obj any) { k.sync(ctx, obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if pod, ok := obj.(*corev1.Pod); ok {
				k.stopPod(pod)
			}
		},
	})
	k.wg.Add(1)
	go func() {
		defer k.wg.Done()
		inf.Run(ctx.Done())
	}()
	e.mu.Lock()
	e.kubelets = append(e.kubelets, k)
	e.mu.Unlock()
	return k
}

// sync starts a pod that is ready to run, and stops one that is being deleted.
func (k *Kubelet) sync(ctx context.Context, obj any) {
	pod, ok := obj.(*corev1.Pod)
	if !ok {
		return
	}
	if pod.DeletionTimestamp != nil {
		k.stopPod(pod)
		return
	}
	if pod.Spec.NodeName == "" || pod.Status.PodIP == "" {
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.pods[pod.UID]; ok || k.stopped {
		return
	}
	if ip := net.ParseIP(pod.Status.PodIP); ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		k.problems[pod.Name] = fmt.Sprintf("refused: pod IP %q is not in 127.0.0.0/8; the harness never sends traffic off this machine", pod.Status.PodIP)
		k.env.logf("kubelet %s: pod %s %s", k.ns, pod.Name, k.problems[pod.Name])
		k.pods[pod.UID] = &podRun{name: pod.Name, cancel: func() {}}
		return
	}
	runCtx, cancel := context.WithCancel(ctx)
	r := &podRun{name: pod.Name, cancel: cancel, grace: graceOf(pod)}
	k.pods[pod.UID] = r
	delete(k.problems, pod.Name) // a new pod of that name starts afresh
	k.wg.Add(1)
	go k.run(runCtx, r, pod.DeepCopy())
}

// stopPod asks the pod's process, if any, to stop, with the deletion's grace period.
func (k *Kubelet) stopPod(pod *corev1.Pod) {
	k.mu.Lock()
	defer k.mu.Unlock()
	r, ok := k.pods[pod.UID]
	if !ok {
		// Never started (or deleted before we saw it running): remember it so a late
		// update does not start it.
		k.pods[pod.UID] = &podRun{name: pod.Name, cancel: func() {}}
		return
	}
	r.grace = graceOf(pod)
	r.stopping = true
	r.cancel()
}

// run starts the pod's process once its IP is free, and stops it when ctx ends.
func (k *Kubelet) run(ctx context.Context, r *podRun, pod *corev1.Pod) {
	defer k.wg.Done()
	release, err := k.env.claimIP(ctx, pod.Status.PodIP)
	if err != nil {
		return // stopped before the IP came free
	}
	defer release()
	proc, err := k.start(ctx, pod)
	if err != nil {
		k.mu.Lock()
		k.problems[pod.Name] = err.Error()
		k.mu.Unlock()
		k.env.logf("kubelet %s: pod %s: %v", k.ns, pod.Name, err)
		return
	}
	k.mu.Lock()
	r.proc = proc
	k.mu.Unlock()
	select {
	case <-ctx.Done():
		k.mu.Lock()
		grace := r.grace
		k.mu.Unlock()
		proc.stop(grace)
	case <-proc.done:
		k.mu.Lock()
		k.problems[pod.Name] = fmt.Sprintf("process exited: %v", proc.err)
		k.mu.Unlock()
	}
}

// start launches the pod's first container as a local process.
func (k *Kubelet) start(ctx context.Context, pod *corev1.Pod) (*process, error) {
	if len(pod.Spec.Containers) == 0 {
		return nil, fmt.Errorf("no containers")
	}
	c := &pod.Spec.Containers[0]
	if len(c.Command) == 0 {
		return nil, fmt.Errorf("containers[%s].command is empty: the harness cannot run an image's entrypoint", c.Name)
	}
	podsDir := filepath.Join(k.env.Dir, "pods")
	workDir := filepath.Join(podsDir, pod.Namespace+"_"+pod.Name+"_"+string(pod.UID))
	if err := os.MkdirAll(workDir, 0o755); err != nil {
		return nil, err
	}
	dir := workDir
	if c.WorkingDir != "" {
		dir = c.WorkingDir
	}
	env, vals, err := containerEnv(ctx, k.env.Client, pod, c, workDir)
	if err != nil {
		return nil, err
	}
	argv := make([]string, 0, len(c.Command)+len(c.Args))
	for _, a := range append(append([]string{}, c.Command...), c.Args...) {
		argv = append(argv, expand(a, vals))
	}
	if p, err := exec.LookPath(argv[0]); err == nil {
		argv[0] = p
	}
	proc, err := startProcess("pod "+pod.Name, argv, env, dir, k.LogPath(pod.Name))
	if err != nil {
		return nil, err
	}
	k.env.logf("kubelet %s: pod %s on %s: started pid %d (%s)", k.ns, pod.Name, pod.Status.PodIP, proc.pid(), argv[0])
	return proc, nil
}

// LogPath is where the process of pod name writes its stdout and stderr.
func (k *Kubelet) LogPath(name string) string {
	return filepath.Join(k.env.Dir, "pods", k.ns+"_"+name+".log")
}

// PIDs returns pod name → pid for the pods whose process is running (a deleted pod's
// process is listed until it has exited, unless a new pod of the same name runs).
func (k *Kubelet) PIDs() map[string]int {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[string]int{}
	current := map[string]bool{}
	for _, r := range k.pods {
		if r.proc == nil || r.proc.exited() || (current[r.name] && r.stopping) {
			continue
		}
		out[r.name] = r.proc.pid()
		current[r.name] = !r.stopping
	}
	return out
}

// Problems returns pod name → why the pod's process is not running (refused, failed to
// start, exited), for the pods that have one.
func (k *Kubelet) Problems() map[string]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := make(map[string]string, len(k.problems))
	for n, p := range k.problems {
		out[n] = p
	}
	return out
}

// Stop stops watching, sends SIGTERM to every process (SIGKILL after its pod's grace
// period) and returns when all have exited. It is safe to call more than once.
func (k *Kubelet) Stop() {
	k.mu.Lock()
	k.stopped = true
	k.mu.Unlock()
	k.cancel()
	k.wg.Wait()
}

// graceOf is how long the pod's process gets between SIGTERM and SIGKILL.
func graceOf(pod *corev1.Pod) time.Duration {
	secs := int64(corev1.DefaultTerminationGracePeriodSeconds)
	if pod.Spec.TerminationGracePeriodSeconds != nil {
		secs = *pod.Spec.TerminationGracePeriodSeconds
	}
	if pod.DeletionGracePeriodSeconds != nil {
		secs = *pod.DeletionGracePeriodSeconds
	}
	return max(time.Duration(secs)*time.Second, minGrace)
}

// claimIP waits until no process of this Env uses ip, then marks it used until release.
func (e *Env) claimIP(ctx context.Context, ip string) (release func(), err error) {
	for {
		e.mu.Lock()
		busy, ok := e.ipUse[ip]
		if !ok {
			done := make(chan struct{})
			e.ipUse[ip] = done
			e.mu.Unlock()
			return func() {
				e.mu.Lock()
				delete(e.ipUse, ip)
				e.mu.Unlock()
				close(done)
			}, nil
		}
		e.mu.Unlock()
		select {
		case <-busy:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

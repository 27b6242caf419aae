package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"gantry.dev/gantry/deploy"
)

// AnnotationHosts and AnnotationWorkerGroup complete what a gateway needs to
// adopt a replica's pods.
const (
	AnnotationHosts       = "gantry.dev/hosts"
	AnnotationWorkerGroup = "gantry.dev/worker-group"
)

// Options configure a Backend.
type Options struct {
	Client    kubernetes.Interface
	Namespace string
	// Owner returns the GantryService an application belongs to; nil or a
	// zero Owner: pods have no owner (and service label "").
	Owner func(application string) Owner
	// Port is the container port replicas listen on (PORT); default 8080.
	Port   int
	Logger *slog.Logger
}

// Backend runs replicas as pods in one namespace. Call Run before Start.
// It is safe for concurrent use.
type Backend struct {
	client kubernetes.Interface
	ns     string
	owner  func(string) Owner
	port   int
	log    *slog.Logger

	informer cache.SharedIndexInformer
	synced   chan struct{}

	mu    sync.Mutex
	insts map[string]*instance // by replica id
}

var _ deploy.Adopter = (*Backend)(nil)

// New returns a Backend; it watches nothing until Run.
func New(o Options) *Backend {
	if o.Port == 0 {
		o.Port = DefaultPort
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Owner == nil {
		o.Owner = func(string) Owner { return Owner{} }
	}
	b := &Backend{client: o.Client, ns: o.Namespace, owner: o.Owner, port: o.Port, log: o.Logger,
		synced: make(chan struct{}), insts: map[string]*instance{}}
	factory := informers.NewSharedInformerFactoryWithOptions(o.Client, 0, informers.WithNamespace(o.Namespace),
		informers.WithTweakListOptions(func(lo *metav1.ListOptions) { lo.LabelSelector = LabelManagedBy + "=" + ManagedBy }))
	b.informer = factory.Core().V1().Pods().Informer()
	b.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { b.observe(obj) },
		UpdateFunc: func(_, obj any) { b.observe(obj) },
		DeleteFunc: func(obj any) {
			if t, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = t.Obj
			}
			if p, ok := obj.(*corev1.Pod); ok {
				if in := b.find(p); in != nil {
					in.gone(p)
				}
			}
		},
	})
	return b
}

// Run watches the namespace's Gantry pods until ctx ends.
func (b *Backend) Run(ctx context.Context) error {
	go b.informer.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), b.informer.HasSynced) {
		return ctx.Err()
	}
	close(b.synced)
	<-ctx.Done()
	return nil
}

// waitSynced waits for the pod cache's first list.
func (b *Backend) waitSynced(ctx context.Context) error {
	select {
	case <-b.synced:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("waiting for the pod cache of namespace %s: %w", b.ns, ctx.Err())
	}
}

func (b *Backend) observe(obj any) {
	if p, ok := obj.(*corev1.Pod); ok {
		if in := b.find(p); in != nil {
			in.update(p)
		}
	}
}

func (b *Backend) find(p *corev1.Pod) *instance {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.insts[p.Annotations[AnnotationReplicaID]]
}

// Start creates the pods of the replica, one per host, and returns without
// waiting for them to be scheduled.
func (b *Backend) Start(ctx context.Context, spec deploy.ReplicaSpec) (deploy.Instance, error) {
	if err := b.waitSynced(ctx); err != nil {
		return nil, err
	}
	hosts := max(spec.Hosts, 1)
	owner := b.owner(spec.Application)
	pods := make([]*corev1.Pod, hosts)
	for h := range hosts {
		p, err := podFor(spec, h, owner, b.port)
		if err != nil {
			return nil, err
		}
		p.Annotations[AnnotationHosts] = strconv.Itoa(hosts)
		if spec.Group != nil {
			p.Annotations[AnnotationWorkerGroup] = spec.Group.Name
		}
		pods[h] = p
	}
	if hosts > 1 {
		if err := b.ensureHeadless(ctx, owner); err != nil {
			return nil, err
		}
	}
	in := b.register(spec.ID, hosts, podNames(pods))
	for _, p := range pods {
		if _, err := b.client.CoreV1().Pods(b.ns).Create(ctx, p, metav1.CreateOptions{}); err != nil {
			in.Stop(0)
			return nil, fmt.Errorf("creating pod %s: %w", p.Name, err)
		}
	}
	b.log.Info("replica pods created", "replica", spec.ID, "pods", in.names)
	return in, nil
}

func podNames(pods []*corev1.Pod) []string {
	names := make([]string, len(pods))
	for i, p := range pods {
		names[i] = p.Name
	}
	return names
}

// register records an instance so that pod events reach it, and feeds it
// what the cache already holds.
func (b *Backend) register(id string, hosts int, names []string) *instance {
	in := newInstance(b, id, hosts, names)
	b.mu.Lock()
	b.insts[id] = in
	b.mu.Unlock()
	for _, n := range names {
		if obj, ok, _ := b.informer.GetStore().GetByKey(b.ns + "/" + n); ok {
			in.update(obj.(*corev1.Pod))
		}
	}
	return in
}

func (b *Backend) unregister(in *instance) {
	b.mu.Lock()
	if b.insts[in.id] == in {
		delete(b.insts, in.id)
	}
	b.mu.Unlock()
}

// ensureHeadless creates the headless Service TPU pods are a subdomain of,
// publishing not-ready addresses as KubeRay does, so hosts can find each
// other before they are ready.
func (b *Backend) ensureHeadless(ctx context.Context, owner Owner) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: headlessName(owner.Name), Labels: map[string]string{
			LabelManagedBy: ManagedBy, LabelService: labelValue(owner.Name)}},
		Spec: corev1.ServiceSpec{
			ClusterIP:                corev1.ClusterIPNone,
			Selector:                 map[string]string{LabelManagedBy: ManagedBy, LabelService: labelValue(owner.Name)},
			PublishNotReadyAddresses: true,
		},
	}
	if owner.UID != "" {
		svc.OwnerReferences = []metav1.OwnerReference{{APIVersion: apiVersion, Kind: gantryServiceKind,
			Name: owner.Name, UID: owner.UID, Controller: ptr(true)}}
	}
	_, err := b.client.CoreV1().Services(b.ns).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating headless service %s: %w", svc.Name, err)
	}
	return nil
}

// Existing returns the replicas whose pods exist and are not being deleted.
func (b *Backend) Existing(ctx context.Context) ([]deploy.Adopted, error) {
	if err := b.waitSynced(ctx); err != nil {
		return nil, err
	}
	byID := map[string][]*corev1.Pod{}
	var order []string
	for _, obj := range b.informer.GetStore().List() {
		p := obj.(*corev1.Pod)
		id := p.Annotations[AnnotationReplicaID]
		if id == "" || p.DeletionTimestamp != nil {
			continue
		}
		if byID[id] == nil {
			order = append(order, id)
		}
		byID[id] = append(byID[id], p)
	}
	var out []deploy.Adopted
	for _, id := range order {
		pods := byID[id]
		p := pods[0]
		a := deploy.Adopted{
			ID: id, Application: p.Annotations[AnnotationApplication], Deployment: p.Annotations[AnnotationDeployment],
			Version: p.Labels[LabelVersion], UserConfig: userConfigOf(p), Slice: -1,
			Group: p.Annotations[AnnotationWorkerGroup],
		}
		if a.Group != "" {
			a.Slice, _ = strconv.Atoi(p.Annotations[AnnotationSlice])
		}
		a.Instance = b.adoptInstance(id, pods)
		out = append(out, a)
	}
	return out, nil
}

// adoptInstance returns the instance of replica id, registering one for
// pods this gateway did not create.
func (b *Backend) adoptInstance(id string, pods []*corev1.Pod) *instance {
	b.mu.Lock()
	in := b.insts[id]
	b.mu.Unlock()
	if in != nil {
		return in
	}
	hosts, _ := strconv.Atoi(pods[0].Annotations[AnnotationHosts])
	hosts = max(hosts, 1)
	names := make([]string, hosts)
	for _, p := range pods {
		if h, err := strconv.Atoi(p.Labels[LabelGroupIndex]); err == nil && h >= 0 && h < hosts {
			names[h] = p.Name
		}
	}
	in = b.register(id, hosts, names)
	for h, n := range names {
		if n == "" {
			in.finish(fmt.Errorf("the pod of host %d of the slice is missing", h))
		}
	}
	return in
}

// userConfigOf reads the user_config a pod was started with.
func userConfigOf(p *corev1.Pod) []byte {
	for _, c := range p.Spec.Containers {
		for _, e := range c.Env {
			if e.Name == "GANTRY_USER_CONFIG" && e.Value != "null" && e.Value != "" {
				return []byte(e.Value)
			}
		}
	}
	return nil
}

// deletePod deletes a pod, gone already counting as done.
func (b *Backend) deletePod(ctx context.Context, name string, grace int64) error {
	err := b.client.CoreV1().Pods(b.ns).Delete(ctx, name, metav1.DeleteOptions{GracePeriodSeconds: &grace})
	if err != nil && !apierrors.IsNotFound(err) {
		return err
	}
	return nil
}

// exists reports whether the cache still holds the pod.
func (b *Backend) exists(name string) bool {
	_, ok, _ := b.informer.GetStore().GetByKey(b.ns + "/" + name)
	return ok
}

var errStopped = errors.New("stopped")

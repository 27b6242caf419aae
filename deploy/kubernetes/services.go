package kubernetes

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
)

// ServicesOptions configure Services.
type ServicesOptions struct {
	Dynamic    dynamic.Interface
	Namespace  string
	Controller *deploy.Controller
	// Leading reports whether this gateway writes status (the leader);
	// nil: always.
	Leading func() bool
	Logger  *slog.Logger
	// Now is the clock; default time.Now.
	Now func() time.Time
	// StatusPeriod is how often status is compared and written; default 1 s.
	StatusPeriod time.Duration
}

// Services applies the GantryServices of a namespace to the controller and
// writes their status. Safe for concurrent use.
type Services struct {
	o        ServicesOptions
	log      *slog.Logger
	informer cache.SharedIndexInformer
	nudge    chan struct{}

	mu      sync.Mutex
	svcs    map[string]*service // by name
	owners  map[string]Owner    // application → its service
	applied []byte              // the config last applied, as JSON
}

// service is what Services keeps of one GantryService.
type service struct {
	name       string
	uid        types.UID
	generation int64
	// accepted is the service's last valid serveConfig; nil if none was.
	accepted *config.Config
	// problem says why the current generation was refused; "" if accepted.
	problem string
}

// NewServices returns Services; call Run.
func NewServices(o ServicesOptions) *Services {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Leading == nil {
		o.Leading = func() bool { return true }
	}
	if o.StatusPeriod <= 0 {
		o.StatusPeriod = time.Second
	}
	s := &Services{o: o, log: o.Logger, nudge: make(chan struct{}, 1),
		svcs: map[string]*service{}, owners: map[string]Owner{}}
	f := dynamicinformer.NewFilteredDynamicSharedInformerFactory(o.Dynamic, 0, o.Namespace, nil)
	s.informer = f.ForResource(GantryServices).Informer()
	poke := func(any) {
		select {
		case s.nudge <- struct{}{}:
		default:
		}
	}
	s.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: poke, UpdateFunc: func(_, o any) { poke(o) }, DeleteFunc: poke,
	})
	return s
}

// Owner returns the GantryService that defines application app.
func (s *Services) Owner(app string) Owner {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.owners[app]
}

// Run watches GantryServices until ctx ends: every change is applied to the
// controller, and status is written while leading.
func (s *Services) Run(ctx context.Context) error {
	go s.informer.Run(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), s.informer.HasSynced) {
		return fmt.Errorf("watching gantryservices in namespace %s: %w", s.o.Namespace, ctx.Err())
	}
	tick := time.NewTicker(s.o.StatusPeriod)
	defer tick.Stop()
	s.sync(ctx)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.nudge:
			s.sync(ctx)
		case <-tick.C:
			s.sync(ctx) // also undoes a config applied another way (the REST API)
		}
		if s.o.Leading() {
			s.writeStatus(ctx)
		}
	}
}

// objects returns the GantryServices, oldest first.
func (s *Services) objects() []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, obj := range s.informer.GetStore().List() {
		if u, ok := obj.(*unstructured.Unstructured); ok {
			out = append(out, u)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		ti, tj := out[i].GetCreationTimestamp(), out[j].GetCreationTimestamp()
		if !ti.Equal(&tj) {
			return ti.Before(&tj)
		}
		return out[i].GetName() < out[j].GetName()
	})
	return out
}

// sync rebuilds the controller's config from every GantryService and
// applies it if it changed.
func (s *Services) sync(ctx context.Context) {
	merged := &config.Config{}
	owners := map[string]Owner{}
	next := map[string]*service{}
	s.mu.Lock()
	for _, u := range s.objects() {
		svc := s.svcs[u.GetName()]
		if svc == nil || svc.uid != u.GetUID() {
			svc = &service{name: u.GetName(), uid: u.GetUID()}
		}
		next[svc.name] = svc
		if gen := u.GetGeneration(); gen != svc.generation {
			svc.generation = gen
			cfg, err := parseServeConfig(u)
			if err != nil {
				svc.problem = err.Error()
			} else if err := fits(merged, cfg, owners); err != nil {
				svc.problem = err.Error()
			} else {
				svc.accepted, svc.problem = cfg, ""
			}
			if svc.problem != "" {
				s.log.Warn("GantryService refused", "name", svc.name, "generation", gen, "problems", svc.problem)
			}
		}
		if svc.accepted == nil || fits(merged, svc.accepted, owners) != nil {
			continue
		}
		merged.Applications = append(merged.Applications, svc.accepted.Applications...)
		merged.WorkerGroups = append(merged.WorkerGroups, svc.accepted.WorkerGroups...)
		for _, a := range svc.accepted.Applications {
			owners[a.EffectiveName()] = Owner{Name: svc.name, UID: svc.uid}
		}
	}
	s.svcs, s.owners = next, owners
	js, _ := json.Marshal(merged)
	current, _ := json.Marshal(s.o.Controller.Snapshot().Config)
	same := string(js) == string(s.applied) && string(js) == string(current)
	s.mu.Unlock()
	if same {
		return
	}
	if err := s.o.Controller.Apply(ctx, merged); err != nil {
		s.log.Error("applying the GantryServices' config", "err", err)
		return
	}
	s.mu.Lock()
	s.applied = js
	s.mu.Unlock()
	s.log.Info("applied the GantryServices' config", "applications", len(merged.Applications))
}

// parseServeConfig validates a GantryService's spec.serveConfig with the
// config file's rules, plus what the Kubernetes backend needs.
func parseServeConfig(u *unstructured.Unstructured) (*config.Config, error) {
	raw, ok, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "serveConfig")
	if !ok || raw == nil {
		return nil, fmt.Errorf("spec.serveConfig: required: the Gantry config (applications, worker_groups, ...)")
	}
	js, err := json.Marshal(raw)
	if err != nil {
		return nil, fmt.Errorf("spec.serveConfig: %w", err)
	}
	cfg, err := config.Parse(js)
	if err != nil {
		return nil, prefixed(err)
	}
	var problems []string
	for i, a := range cfg.Applications {
		for j, d := range a.Deployments {
			if d.Replica == nil || d.Replica.Image == "" {
				problems = append(problems, fmt.Sprintf("spec.serveConfig.applications[%d].deployments[%d].replica.image: "+
					"required on Kubernetes: the container image the replica's command runs in", i, j))
			}
		}
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	return &config.Config{Applications: cfg.Applications, WorkerGroups: cfg.WorkerGroups}, nil
}

// prefixed puts spec.serveConfig. before every problem's path.
func prefixed(err error) error {
	ce, ok := err.(*config.Error)
	if !ok {
		return fmt.Errorf("spec.serveConfig: %w", err)
	}
	lines := make([]string, len(ce.Problems))
	for i, p := range ce.Problems {
		path := "spec.serveConfig"
		if p.Path != "" {
			path += "." + p.Path
		}
		lines[i] = path + ": " + p.Message
	}
	return fmt.Errorf("%s", strings.Join(lines, "\n"))
}

// fits reports why cfg cannot join merged: an application name, route
// prefix or worker group name that an older GantryService has, or a merged
// config that does not validate.
func fits(merged, cfg *config.Config, owners map[string]Owner) error {
	var problems []string
	prefixes := map[string]string{}
	for _, a := range merged.Applications {
		if p, ok := a.Route(); ok {
			prefixes[p] = a.EffectiveName()
		}
	}
	for i, a := range cfg.Applications {
		if o, ok := owners[a.EffectiveName()]; ok {
			problems = append(problems, fmt.Sprintf("spec.serveConfig.applications[%d].name: application %q is already defined by GantryService %s; "+
				"application names must be unique in the namespace", i, a.EffectiveName(), o.Name))
		}
		if p, ok := a.Route(); ok && prefixes[p] != "" {
			problems = append(problems, fmt.Sprintf("spec.serveConfig.applications[%d].route_prefix: %q is already the route prefix of application %q (GantryService %s)",
				i, p, prefixes[p], owners[prefixes[p]].Name))
		}
	}
	for i, g := range cfg.WorkerGroups {
		for _, h := range merged.WorkerGroups {
			if g.Name == h.Name {
				problems = append(problems, fmt.Sprintf("spec.serveConfig.worker_groups[%d].name: worker group %q is already defined by another GantryService; "+
					"worker group names must be unique in the namespace", i, g.Name))
			}
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("%s", strings.Join(problems, "\n"))
	}
	all := &config.Config{
		Applications: append(append([]config.Application{}, merged.Applications...), cfg.Applications...),
		WorkerGroups: append(append([]config.WorkerGroup{}, merged.WorkerGroups...), cfg.WorkerGroups...),
	}
	if err := all.Validate(); err != nil {
		return fmt.Errorf("together with the older GantryServices of the namespace: %w", err)
	}
	return nil
}

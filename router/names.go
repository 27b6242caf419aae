package router

import "sort"

// WithDeployments returns a copy of t that can also find deployments by
// name, for the ingress paths that address an application by name rather
// than by route prefix (the Open Inference Protocol, gRPC): ingress maps
// each application to its ingress deployment, and all lists every
// deployment. Applications without a route prefix are reachable this way.
func (t *Table) WithDeployments(ingress map[string]*Deployment, all []*Deployment) *Table {
	cp := &Table{routes: t.routes, apps: make(map[string]*Deployment, len(ingress)), deps: make(map[string]*Deployment, len(all))}
	for app, d := range ingress {
		cp.apps[app] = d
	}
	for _, d := range all {
		cp.deps[d.app+"/"+d.name] = d
	}
	return cp
}

// Application returns the ingress deployment of the application called name.
func (t *Table) Application(name string) (*Deployment, bool) {
	d, ok := t.apps[name]
	return d, ok
}

// Model resolves an Open Inference Protocol model name: an application's
// name, or "application/deployment" for any deployment.
func (t *Table) Model(name string) (*Deployment, bool) {
	if d, ok := t.apps[name]; ok {
		return d, true
	}
	d, ok := t.deps[name]
	return d, ok
}

// Applications lists the applications by name, sorted.
func (t *Table) Applications() []string {
	names := make([]string, 0, len(t.apps))
	for n := range t.apps {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

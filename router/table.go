package router

import (
	"sort"
	"strings"
	"sync/atomic"
)

// Route sends requests under Prefix to an application's ingress deployment.
type Route struct {
	Prefix      string
	Application string
	Deployment  *Deployment
}

// Table is an immutable route table, longest prefix first.
type Table struct {
	routes []Route
	// Applications and deployments by name, for the gRPC and Open Inference
	// Protocol ingress, which address them by name (see WithDeployments).
	apps, deps map[string]*Deployment
}

// NewTable builds a table from routes; prefixes must be distinct.
func NewTable(routes []Route) *Table {
	rs := append([]Route(nil), routes...)
	sort.Slice(rs, func(i, j int) bool {
		if len(rs[i].Prefix) != len(rs[j].Prefix) {
			return len(rs[i].Prefix) > len(rs[j].Prefix)
		}
		return rs[i].Prefix < rs[j].Prefix
	})
	return &Table{routes: rs}
}

// Match returns the route with the longest prefix that matches path: the
// path equals the prefix or continues after it with "/". Prefix "/" matches
// every path.
func (t *Table) Match(path string) (Route, bool) {
	for _, r := range t.routes {
		if matches(path, r.Prefix) {
			return r, true
		}
	}
	return Route{}, false
}

func matches(path, prefix string) bool {
	if prefix == "/" {
		return true
	}
	return strings.HasPrefix(path, prefix) && (len(path) == len(prefix) || path[len(prefix)] == '/')
}

// Routes returns the table as prefix → application, as /-/routes shows it.
func (t *Table) Routes() map[string]string {
	m := make(map[string]string, len(t.routes))
	for _, r := range t.routes {
		m[r.Prefix] = r.Application
	}
	return m
}

// Len is the number of routes.
func (t *Table) Len() int { return len(t.routes) }

// Router holds the published route table. The controller Publishes; the
// ingress Loads once per request.
type Router struct {
	table atomic.Pointer[Table]
}

// New returns a Router with an empty table.
func New() *Router {
	r := &Router{}
	r.table.Store(NewTable(nil))
	return r
}

// Publish replaces the route table.
func (r *Router) Publish(t *Table) { r.table.Store(t) }

// Table returns the current route table.
func (r *Router) Table() *Table { return r.table.Load() }

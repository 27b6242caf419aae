package router

import (
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the router's request counters. Label sets are resolved once
// per (deployment, code) and kept, so the request path does no map lookups.
type Metrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	retries  *prometheus.CounterVec
	trips    *prometheus.CounterVec
}

// NewMetrics registers the router's metrics with reg.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_requests_total",
			Help: "Requests answered, by application, deployment and HTTP status code.",
		}, []string{"application", "deployment", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "gantry_request_duration_seconds",
			Help:    "Time from routing a request to the end of its response, by application, deployment and code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"application", "deployment", "code"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_request_retries_total",
			Help: "Attempts retried on another replica, by application, deployment and reason.",
		}, []string{"application", "deployment", "reason"}),
		trips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gantry_breaker_trips_total",
			Help: "Times a replica's circuit breaker opened, taking the replica out of picking, by application and deployment.",
		}, []string{"application", "deployment"}),
	}
	reg.MustRegister(m.requests, m.duration, m.retries, m.trips)
	return m
}

type deploymentMetrics struct {
	m        *Metrics // nil: no Prometheus metrics, only stats
	app, dep string
	codes    [600]atomic.Pointer[codeMetrics]
	trips    prometheus.Counter // resolved once: breakers open rarely, but under a lock
	stats    *stats             // for the dashboard's time series
}

type codeMetrics struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

func (m *Metrics) forDeployment(app, dep string) *deploymentMetrics {
	dm := &deploymentMetrics{m: m, app: app, dep: dep, stats: newStats()}
	if m != nil {
		dm.trips = m.trips.WithLabelValues(app, dep)
	}
	return dm
}

// tripped counts one replica's breaker opening.
func (dm *deploymentMetrics) tripped() {
	if dm.trips != nil {
		dm.trips.Inc()
	}
}

// observe counts one answered request.
func (dm *deploymentMetrics) observe(code int, took time.Duration) {
	dm.stats.observe(code, took)
	if dm.m == nil {
		return
	}
	if code < 0 || code >= len(dm.codes) {
		code = 0
	}
	c := dm.codes[code].Load()
	if c == nil {
		label := strconv.Itoa(code)
		c = &codeMetrics{
			requests: dm.m.requests.WithLabelValues(dm.app, dm.dep, label),
			duration: dm.m.duration.WithLabelValues(dm.app, dm.dep, label),
		}
		dm.codes[code].Store(c)
	}
	c.requests.Inc()
	c.duration.Observe(took.Seconds())
}

// retried counts one retry.
func (dm *deploymentMetrics) retried(reason string) {
	if dm.m == nil {
		return
	}
	dm.m.retries.WithLabelValues(dm.app, dm.dep, reason).Inc()
}

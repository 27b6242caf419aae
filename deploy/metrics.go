package deploy

import (
	"github.com/prometheus/client_golang/prometheus"

	"gantry.dev/gantry/replica"
)

// Collector exports the controller's view at scrape time: replicas by
// state, queue length per deployment, in-flight requests per replica. It
// costs the request path nothing.
type Collector struct {
	c        *Controller
	replicas *prometheus.Desc
	queued   *prometheus.Desc
	inflight *prometheus.Desc
	target   *prometheus.Desc
	load     *prometheus.Desc
	wanted   *prometheus.Desc
}

// NewCollector returns a prometheus.Collector over c.
func NewCollector(c *Controller) *Collector {
	return &Collector{
		c: c,
		replicas: prometheus.NewDesc("gantry_replicas", "Replicas by application, deployment and state.",
			[]string{"application", "deployment", "state"}, nil),
		queued: prometheus.NewDesc("gantry_queued_requests", "Requests waiting for a replica.",
			[]string{"application", "deployment"}, nil),
		inflight: prometheus.NewDesc("gantry_replica_ongoing_requests", "Requests a replica is serving.",
			[]string{"application", "deployment", "replica"}, nil),
		target: prometheus.NewDesc("gantry_target_replicas", "Replicas the controller aims for.",
			[]string{"application", "deployment"}, nil),
		load: prometheus.NewDesc("gantry_autoscaler_load",
			"Requests in flight plus queued, averaged over look_back_period_s, as the autoscaler last saw them.",
			[]string{"application", "deployment"}, nil),
		wanted: prometheus.NewDesc("gantry_autoscaler_wanted_replicas",
			"Replicas the load asks for before the upscale and downscale delays.",
			[]string{"application", "deployment"}, nil),
	}
}

// Describe implements prometheus.Collector.
func (m *Collector) Describe(ch chan<- *prometheus.Desc) {
	ch <- m.replicas
	ch <- m.queued
	ch <- m.inflight
	ch <- m.target
	ch <- m.load
	ch <- m.wanted
}

// Collect implements prometheus.Collector.
func (m *Collector) Collect(ch chan<- prometheus.Metric) {
	for _, d := range m.c.Status() {
		traffic := m.c.Traffic(d.Application, d.Deployment)
		counts := map[replica.State]int{}
		for _, r := range d.Replicas {
			counts[r.State]++
			if r.State == replica.Running {
				ch <- prometheus.MustNewConstMetric(m.inflight, prometheus.GaugeValue, float64(traffic.Inflight[r.ID]),
					d.Application, d.Deployment, r.ID)
			}
		}
		for _, s := range replica.States {
			ch <- prometheus.MustNewConstMetric(m.replicas, prometheus.GaugeValue, float64(counts[s]),
				d.Application, d.Deployment, string(s))
		}
		ch <- prometheus.MustNewConstMetric(m.queued, prometheus.GaugeValue, float64(traffic.Queued), d.Application, d.Deployment)
		ch <- prometheus.MustNewConstMetric(m.target, prometheus.GaugeValue, float64(d.Target), d.Application, d.Deployment)
		if a := d.Autoscaler; a != nil {
			ch <- prometheus.MustNewConstMetric(m.load, prometheus.GaugeValue, a.Load, d.Application, d.Deployment)
			ch <- prometheus.MustNewConstMetric(m.wanted, prometheus.GaugeValue, float64(a.Wanted), d.Application, d.Deployment)
		}
	}
}

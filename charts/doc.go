// Package charts holds Gantry's Helm chart (charts/gantry) and no Go code: its tests render
// the chart with Helm and apply the result to a real kube-apiserver (internal/k8stest) —
// the CRD for real, everything else as a server-side dry run — and check that the Role
// grants the gateway what it needs and nothing more.
package charts

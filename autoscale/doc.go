// Package autoscale is the scaling policy: pure functions of load, config,
// time and carried state that say how many replicas a deployment should
// have. It starts and stops nothing; the controller acts on its answers.
package autoscale

// Package autoscale is the scaling policy: pure functions of load, config,
// time and carried state that say how many replicas a deployment should
// have. It starts and stops nothing; the controller acts on its answers.
//
// On every control-loop tick the controller reads the deployment's load
// from a Window (fed with the router's in-flight plus queued requests),
// calls Decide with a Config, an Input and the State the previous call
// returned, keeps the new State, and works toward Decision.Target. Desired
// is Ray Serve's formula on its own. Time comes in through Input.Now and the
// arguments of Window's methods, so tests run on a fake clock.
//
// Nothing here is safe for concurrent use, and nothing needs to be: one
// goroutine, the controller loop, owns each deployment's Window and State.
// The package imports only the standard library.
package autoscale

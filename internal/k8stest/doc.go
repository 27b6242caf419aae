// Package k8stest runs a real Kubernetes control plane for tests, on this machine only:
// etcd, kube-apiserver and kube-scheduler built from their Go modules, and KWOK for fake
// nodes, all bound to 127.0.0.1 on free ports with their state in temporary directories.
//
// Start builds the binaries (hack/k8s-testenv/build.sh, cached outside the clone; a warm run
// costs nothing) unless GANTRY_K8S_BIN names a directory that already holds them, then starts
// the processes and waits until the apiserver is ready. Start it once per test package, from
// TestMain (Main does that), and give each test its own namespace (Env.Namespace).
//
// The apiserver authorizes with RBAC; Env.Config and Env.Client carry a system:masters
// token. There is no kube-controller-manager: no namespace finalization, no garbage
// collection of owned objects, no default ServiceAccounts (the ServiceAccount admission
// plugin is off so pods need none). KWOK marks pods scheduled onto its nodes Running and
// Ready and gives them an IP from Env.PodCIDR, a /16 of 127.64.0.0/10 reserved for this Env
// alone (test binaries running at once get different ones); nodes get InternalIP 127.63.0.1.
//
// Nothing here sends traffic outside 127.0.0.0/8: every component listens and dials on
// loopback, pod IPs are loopback addresses, and the kubelet stand-in (RunPods) refuses to
// start a pod whose IP is not in 127.0.0.0/8.
//
// RunPods plays the kubelet's part for pods that should really serve: it runs each scheduled
// pod's container command as a local process with the pod's environment (downward-API
// fields resolved), so the process can listen on its pod IP; it stops the process when the
// pod is deleted. Exited processes are not restarted.
//
// Gate: the tests that need the control plane run when GANTRY_K8S_TESTS=1 or CI=true. Under
// CI=true a failure to build or start the control plane fails the test binary; elsewhere the
// tests skip when not enabled, and Main prints one NOTE line per package saying so and naming
// GANTRY_K8S_TESTS=1 and `make test-go`, where a plain `go test ./...` shows it.
package k8stest

// Package kubernetes runs Gantry on Kubernetes: it is the only package that
// imports client-go.
//
// Backend is a deploy.Backend whose replicas are Pods in one namespace: one
// pod per host of a replica's TPU slice (one pod without TPU), labelled with
// the GantryService, application, deployment, replica, code version and host
// index, owned by the GantryService, with resources from ray_actor_options
// and, on TPU slices, the nodeSelector, affinity, hostname/subdomain and
// TPU_* environment that KubeRay's TPU webhook would inject. Pods outlive the
// gateway: Backend is a deploy.Adopter, so a gateway that becomes the leader
// adopts the pods that exist, and followers route to them.
//
// Services watches GantryService resources (gantry.dev/v1alpha1), applies
// their serveConfig to the controller, and writes their status. Several
// GantryServices in a namespace make one controller config: the union of
// their applications and worker groups. Application names, route prefixes
// and worker group names must be unique across the namespace; a service that
// conflicts with an older one (by creation time) is refused with a status
// message naming the conflict, and keeps what it had.
//
// Elect runs Lease-based leader election: every gateway serves traffic, one
// reconciles and writes status.
//
// Gateway is the Kubernetes side of `gantry serve --backend kubernetes`, as
// components the caller runs: NewGateway connects and checks that the
// GantryService resource is readable; the caller builds the controller with
// Gateway.Backend (a follower that detaches its pods), hands it to Attach,
// and runs Gateway.Run (pod cache, GantryService watcher, leader election)
// in the same group as the controller and the server (serve.Gateway).
package kubernetes

// Command gantry is the Gantry gateway and its tools.
//
//	gantry serve [CONFIG | --from-rayservice FILE] [--http-port N] [--grpc-port N] [--dashboard-port N] [--state-dir DIR]
//	gantry deploy CONFIG [--wait]  apply a config to a running gateway (PUT /api/serve/applications/)
//	gantry deploy --from-rayservice FILE  apply a KubeRay RayService's spec.serveConfigV2
//	gantry status [-n APP]         application and deployment statuses, like Ray's `serve status`
//	gantry config [-n APP]         the applied config
//	gantry shutdown [-y]           delete every application
//	gantry example painter         run the Stable Diffusion example's painter as a replica
//	gantry imagine [flags]         send prompts to the example and tile the pictures
//
// This package only parses flags and wires components; the logic lives in
// serve, deploy, router and replica. `gantry serve` builds the backend
// (local processes, or the Kubernetes Gateway), hands it to
// serve.NewGateway, which builds the registry, router, controller and
// server, and runs them with serve.Gateway.Run: one errgroup of
// components, stopped in order (ingress, then controller).
package main

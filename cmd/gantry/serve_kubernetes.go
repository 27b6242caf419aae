package main

import (
	"context"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/deploy/kubernetes"
	"gantry.dev/gantry/serve"
)

// serveKubernetes runs the gateway with replicas as pods: every gateway
// serves traffic to the pods, the one holding the Lease reconciles.
func serveKubernetes(ctx context.Context, f serveFlags, opts serve.Options) error {
	log := opts.Logger
	kubernetes.LogClientTo(log)
	kgw, err := kubernetes.NewGateway(ctx, kubernetes.GatewayOptions{
		Namespace: f.namespace, LeaseDuration: f.leaseDuration,
		RenewDeadline: f.leaseDuration * 2 / 3, RetryPeriod: f.leaseDuration / 7, Logger: log,
	})
	if err != nil {
		return err
	}
	if opts.HTTPAddr == "" && f.httpHost == "" {
		opts.HTTPAddr = withHost((&config.Config{}).HTTPAddr(), "0.0.0.0")
		if f.httpPort != 0 {
			opts.HTTPAddr = withPort(opts.HTTPAddr, f.httpPort)
		}
	}
	// Commands run in the replicas' images: "gantry" is the image's, not
	// ours, and the GantryServices are the applied state: no Self, no Store.
	// The controller follows until this gateway holds the Lease, and leaves
	// the pods running when it stops, for the next leader to adopt.
	gw, err := serve.NewGateway(opts, deploy.Options{Backend: kgw.Backend(), Logger: log, Follower: true, Detach: true,
		Graphs: deploy.NoPython{Reason: deploy.NoPythonOnKubernetes}})
	if err != nil {
		return err
	}
	kgw.Attach(gw.Controller)
	gw.Alongside = append(gw.Alongside, kgw.Run)
	log.Info("kubernetes backend", "namespace", kgw.Namespace())
	return gw.Run(ctx)
}

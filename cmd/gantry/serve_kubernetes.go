package main

import (
	"context"
	"log/slog"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/deploy/kubernetes"
	"gantry.dev/gantry/serve"
)

// serveKubernetes runs the gateway with replicas as pods: every gateway
// serves traffic to the pods, the one holding the Lease reconciles.
func serveKubernetes(ctx context.Context, f serveFlags, opts serve.Options, log *slog.Logger) error {
	kubernetes.LogClientTo(log)
	gw, err := kubernetes.NewGateway(kubernetes.GatewayOptions{
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
	// Commands run in the replicas' images: "gantry" is the image's, not ours.
	opts.Self, opts.Store = "", nil
	opts.Backend, opts.Follower, opts.Detach = gw.Backend(), true, true
	srv, err := serve.New(opts)
	if err != nil {
		return err
	}
	log.Info("kubernetes backend", "namespace", gw.Namespace())
	return gw.Run(ctx, srv.Controller(), srv.Run)
}

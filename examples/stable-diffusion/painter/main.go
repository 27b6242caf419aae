package painter

import (
	"context"
	"errors"
	"flag"
	"fmt"

	"gantry.dev/gantry/replica"
)

// Main runs the painter as a Gantry replica (`gantry example painter`): it
// serves Handler on $GANTRY_HOST:$PORT (127.0.0.1:$PORT without GANTRY_HOST), or on --addr, answers the replica
// protocol's health checks, takes {"default_steps": N} as user_config (from
// GANTRY_USER_CONFIG at start and POST /-/reconfigure later), and drains
// in-flight requests when ctx is cancelled or SIGTERM arrives.
func Main(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("painter", flag.ContinueOnError)
	addr := fs.String("addr", "", "address to listen on (default $GANTRY_HOST:$PORT, else 127.0.0.1:$PORT)")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: gantry example painter [--addr HOST:PORT]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("painter: unexpected arguments %q", fs.Args())
	}
	env := replica.FromEnv()
	if *addr == "" && env.Port == 0 {
		return errors.New("painter: no address to listen on: set $PORT or pass --addr 127.0.0.1:8080")
	}
	srv := newServer(env.ReplicaID)
	if len(env.UserConfig) > 0 {
		if err := srv.reconfigure(env.UserConfig); err != nil {
			return fmt.Errorf("painter: %s: %w", replica.EnvUserConfig, err)
		}
	}
	return replica.Serve(ctx, srv, replica.ServeOptions{Addr: *addr, Reconfigure: srv.reconfigure})
}

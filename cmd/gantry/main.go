package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"gantry.dev/gantry/examples/stable-diffusion/imagine"
	"gantry.dev/gantry/examples/stable-diffusion/painter"
)

const usage = `usage: gantry <command> [arguments]

commands:
  serve [CONFIG]     run the gateway (flags: --http-port, --grpc-port, --dashboard-port, --state-dir, --admin-token)
  deploy CONFIG      apply a config to a running gateway (--wait: until RUNNING)
  status [-n APP]    show the applications' status as YAML, like Ray's serve status
  config [-n APP]    show the config a running gateway applied
  shutdown [-y]      delete every application on a running gateway
  example painter    run the Stable Diffusion example's painter replica (reads $PORT)
  imagine            send prompts to a running example and save diffusion_results.png

deploy, status, config and shutdown take --address (default http://127.0.0.1:8265,
env GANTRY_ADDRESS) and --admin-token (env GANTRY_ADMIN_TOKEN).
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "gantry:", err)
		}
		os.Exit(exitCode(err))
	}
}

// usageError marks errors caused by how the command was called (exit 2).
type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func exitCode(err error) int {
	var u usageError
	if errors.As(err, &u) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch args[0] {
	case "serve":
		return serveCmd(ctx, args[1:], stderr)
	case "deploy":
		return deployCmd(ctx, args[1:], stdout, stderr)
	case "status":
		return statusCmd(ctx, args[1:], stdout, stderr)
	case "config":
		return configCmd(ctx, args[1:], stdout, stderr)
	case "shutdown":
		return shutdownCmd(ctx, args[1:], stdout, stderr)
	case "example":
		if len(args) < 2 || args[1] != "painter" {
			return usageError{"usage: gantry example painter [--addr HOST:PORT]"}
		}
		return painter.Main(ctx, args[2:])
	case "imagine":
		return imagine.Main(ctx, args[1:], stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	default:
		fmt.Fprint(stderr, usage)
		return usageError{fmt.Sprintf("unknown command %q", args[0])}
	}
}

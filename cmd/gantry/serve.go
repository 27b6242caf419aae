package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"time"

	"gantry.dev/gantry/deploy"
	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/deploy/local"
	"gantry.dev/gantry/serve"
	"gantry.dev/gantry/serve/admin"
	"gantry.dev/gantry/serve/ingress"
)

type serveFlags struct {
	httpPort, grpcPort, dashboardPort int
	stateDir                          string
	logFormat                         string
	adminToken                        string
	backend, namespace                string
	httpHost, dashboardHost           string
	leaseDuration                     time.Duration
	accessLog                         bool
	rayService                        string
}

func serveCmd(ctx context.Context, args []string, stderr io.Writer) error {
	var f serveFlags
	fs := flag.NewFlagSet("gantry serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.IntVar(&f.httpPort, "http-port", 0, "HTTP ingress port (overrides http_options.port)")
	fs.IntVar(&f.grpcPort, "grpc-port", 0, "gRPC ingress port (overrides grpc_options.port)")
	fs.IntVar(&f.dashboardPort, "dashboard-port", 0, "REST API, metrics and dashboard port (overrides dashboard.port)")
	fs.StringVar(&f.stateDir, "state-dir", defaultStateDir(), "where replica logs and applied state are kept")
	fs.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fs.BoolVar(&f.accessLog, "access-log", true, "log a line per request to stderr (application, deployment, replica, status, duration, request and trace id); --access-log=false turns it off")
	fs.StringVar(&f.adminToken, "admin-token", os.Getenv(admin.AdminTokenEnv),
		"token every mutating REST API call must send (Authorization: Bearer); required when the dashboard host is not loopback (env "+admin.AdminTokenEnv+")")
	fs.StringVar(&f.backend, "backend", "local", "where replicas run: local (child processes) or kubernetes (pods; the config comes from GantryService resources)")
	fs.StringVar(&f.namespace, "namespace", "", "with --backend kubernetes: the namespace to watch and run pods in (default $POD_NAMESPACE, else default)")
	fs.StringVar(&f.httpHost, "http-host", "", "HTTP ingress host (overrides http_options.host; default 0.0.0.0 with --backend kubernetes)")
	fs.StringVar(&f.dashboardHost, "dashboard-host", "", "REST API, metrics and dashboard host (overrides dashboard.host; beyond loopback it needs --admin-token)")
	fs.DurationVar(&f.leaseDuration, "lease-duration", 15*time.Second, "with --backend kubernetes: how long a dead leader keeps the gateway Lease before another gateway takes over")
	fs.StringVar(&f.rayService, "from-rayservice", "", "serve the Ray Serve config (spec.serveConfigV2) of the KubeRay RayService manifest in FILE")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: gantry serve [CONFIG | --from-rayservice FILE] [flags]")
		fs.PrintDefaults()
	}
	// A flag the set does not define is a usage error (exit 2), like any
	// other bad invocation; fs has already printed it with the usage.
	parse := func(args []string) error {
		err := fs.Parse(args)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			err = usageError{err.Error()}
		}
		return err
	}
	// Flags may come before or after the config path.
	if err := parse(args); err != nil {
		return err
	}
	// Replicas inherit the gateway's environment: keep the token from them.
	os.Unsetenv(admin.AdminTokenEnv)
	var configPath string
	if rest := fs.Args(); len(rest) > 0 {
		configPath = rest[0]
		if err := parse(rest[1:]); err != nil {
			return err
		}
		if len(fs.Args()) > 0 {
			return usageError{fmt.Sprintf("gantry serve takes one config file, got extra arguments %q", fs.Args())}
		}
	}
	switch {
	case f.rayService != "" && configPath != "":
		return usageError{"gantry serve takes a config file or --from-rayservice FILE, not both"}
	case f.backend != "local" && f.backend != "kubernetes":
		return usageError{fmt.Sprintf("--backend must be local or kubernetes, got %q", f.backend)}
	case f.backend == "kubernetes" && (configPath != "" || f.rayService != ""):
		return usageError{"gantry serve --backend kubernetes takes no config file: it applies the GantryService resources of its namespace"}
	}
	for name, p := range map[string]int{"--http-port": f.httpPort, "--grpc-port": f.grpcPort, "--dashboard-port": f.dashboardPort} {
		if p < 0 || p > 65535 {
			return usageError{fmt.Sprintf("%s must be between 1 and 65535, got %d", name, p)}
		}
	}
	// The gateway's live heap is a few MB and nearly all its garbage is
	// per-request: collecting at 4x instead of 2x the live heap measured ~8%
	// more requests per second for ~12 MB more memory. GOGC still wins.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	log, err := newLogger(stderr, f.logFormat)
	if err != nil {
		return err
	}

	var cfg *config.Config
	if configPath != "" || f.rayService != "" {
		if cfg, err = loadConfig(cmp.Or(f.rayService, configPath), f.rayService != ""); err != nil {
			return err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the gantry executable: %w", err)
	}
	opts := serve.Options{Config: cfg, Logger: log, AdminToken: f.adminToken}
	if f.accessLog {
		opts.AccessLog, opts.AccessLogJSON = stderr, f.logFormat == "json"
	}
	tp, stopTracing, err := ingress.TracingFromEnv(ctx)
	if err != nil {
		return err
	}
	defer func() {
		// Send the spans still buffered, but do not hang on a collector that is gone.
		c, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		stopTracing(c)
	}()
	opts.TracerProvider = tp
	addrs := cfg
	if addrs == nil {
		addrs = &config.Config{}
	}
	if f.httpPort != 0 {
		opts.HTTPAddr = withPort(addrs.HTTPAddr(), f.httpPort)
	}
	if f.grpcPort != 0 {
		opts.GRPCAddr = ":" + strconv.Itoa(f.grpcPort) // on the HTTP ingress's host
	}
	if f.dashboardPort != 0 {
		opts.DashboardAddr = withPort(addrs.DashboardAddr(), f.dashboardPort)
	}
	if f.httpHost != "" {
		opts.HTTPAddr = withHost(cmp.Or(opts.HTTPAddr, addrs.HTTPAddr()), f.httpHost)
	}
	if f.dashboardHost != "" {
		opts.DashboardAddr = withHost(cmp.Or(opts.DashboardAddr, addrs.DashboardAddr()), f.dashboardHost)
	}
	if f.backend == "kubernetes" {
		return serveKubernetes(ctx, f, opts)
	}
	if err := os.MkdirAll(f.stateDir, 0o755); err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}
	backend := local.New(local.Options{StateDir: f.stateDir, Logger: log})
	defer backend.Close()
	gw, err := serve.NewGateway(opts, deploy.Options{Backend: backend, Self: self, Logger: log,
		Store: &deploy.Store{Path: filepath.Join(f.stateDir, "applied.json")}})
	if err != nil {
		return err
	}
	return gw.Run(ctx)
}

func withHost(addr, host string) string {
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return net.JoinHostPort(host, port)
}

func withPort(addr string, port int) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func defaultStateDir() string {
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".gantry")
	}
	return filepath.Join(os.TempDir(), "gantry")
}

func newLogger(w io.Writer, format string) (*slog.Logger, error) {
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, nil)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, nil)), nil
	default:
		return nil, usageError{fmt.Sprintf("--log-format must be text or json, got %q", format)}
	}
}

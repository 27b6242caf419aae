package replica

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Paths of the replica protocol that Serve answers itself.
const (
	// HealthPath answers 200 "ok" while the replica is healthy.
	HealthPath = "/-/healthz"
	// ReconfigurePath takes the deployment's new user_config as a JSON body.
	ReconfigurePath = "/-/reconfigure"
)

// Environment variables Gantry sets for every replica it starts.
const (
	EnvPort        = "PORT"
	EnvReplicaID   = "GANTRY_REPLICA_ID"
	EnvDeployment  = "GANTRY_DEPLOYMENT"
	EnvApplication = "GANTRY_APPLICATION"
	EnvUserConfig  = "GANTRY_USER_CONFIG"
	// EnvHost is the address to listen on, when set (the pod IP on
	// Kubernetes); otherwise replicas listen on 127.0.0.1.
	EnvHost = "GANTRY_HOST"
)

// Defaults applied by Serve to zero fields of ServeOptions.
const (
	DefaultShutdownTimeout   = 30 * time.Second
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 120 * time.Second
	DefaultMaxHeaderBytes    = 1 << 20
	// maxReconfigureBytes bounds a POST /-/reconfigure body.
	maxReconfigureBytes = 1 << 20
)

// ServeOptions tunes Serve. The zero value is ready to use.
type ServeOptions struct {
	// Addr is the host:port to listen on; default $GANTRY_HOST:$PORT, or
	// 127.0.0.1:$PORT when GANTRY_HOST is unset.
	Addr string
	// Healthy, when set, is asked on every GET /-/healthz; false answers 503.
	// It must be fast and safe for concurrent use.
	Healthy func() bool
	// Reconfigure, when set, receives the body of POST /-/reconfigure (the
	// deployment's user_config as JSON, "null" when it is unset); an error
	// answers 400 with its message. When nil, reconfigure answers 501.
	// Calls are serialized: Serve never runs two at once.
	Reconfigure func(json.RawMessage) error
	// ShutdownTimeout bounds how long in-flight requests may run after ctx
	// is cancelled or SIGTERM arrives; default 30s.
	ShutdownTimeout time.Duration
	// ReadHeaderTimeout bounds reading a request's headers; default 10s.
	ReadHeaderTimeout time.Duration
	// ReadTimeout bounds reading a whole request; default 0 (none), since
	// model inputs can be large and slow to upload.
	ReadTimeout time.Duration
	// WriteTimeout bounds a request from the end of its headers to the end
	// of its response; default 0 (none), since inference can be slow.
	WriteTimeout time.Duration
	// IdleTimeout is how long an idle keep-alive connection is kept; default 120s.
	IdleTimeout time.Duration
	// MaxHeaderBytes limits request headers; default 1 MiB.
	MaxHeaderBytes int
	// Logger receives lifecycle messages and http.Server errors; default slog.Default().
	Logger *slog.Logger
	// Ready, when set, is called once with the bound address as soon as the
	// listener is open (useful with Addr "127.0.0.1:0").
	Ready func(addr net.Addr)
}

// Env is the environment Gantry gives a replica.
type Env struct {
	// ReplicaID is unique for the life of the gateway (GANTRY_REPLICA_ID).
	ReplicaID string
	// Deployment and Application name what the replica belongs to.
	Deployment  string
	Application string
	// UserConfig is the deployment's user_config as JSON (GANTRY_USER_CONFIG);
	// nil when unset. It is passed on as given, even if it is not valid JSON.
	UserConfig json.RawMessage
	// Port is $PORT; 0 when unset or not a port number.
	Port int
	// Host is $GANTRY_HOST; "" when unset.
	Host string
}

// FromEnv reads the GANTRY_* variables and PORT from the process environment.
func FromEnv() Env {
	e := Env{
		ReplicaID:   os.Getenv(EnvReplicaID),
		Deployment:  os.Getenv(EnvDeployment),
		Application: os.Getenv(EnvApplication),
		Host:        strings.TrimSpace(os.Getenv(EnvHost)),
	}
	if uc := strings.TrimSpace(os.Getenv(EnvUserConfig)); uc != "" {
		e.UserConfig = json.RawMessage(uc)
	}
	if p, err := strconv.Atoi(os.Getenv(EnvPort)); err == nil && p > 0 && p < 65536 {
		e.Port = p
	}
	return e
}

// Addr is the address a replica listens on by default: $GANTRY_HOST:$PORT
// (127.0.0.1:$PORT when GANTRY_HOST is unset), or "" when PORT is unset.
func (e Env) Addr() string {
	if e.Port == 0 {
		return ""
	}
	host := e.Host
	if host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, strconv.Itoa(e.Port))
}

// Serve runs h as a Gantry replica. It listens on opts.Addr (default
// $GANTRY_HOST:$PORT, else 127.0.0.1:$PORT), answers GET /-/healthz with 200 "ok" (503 when
// opts.Healthy returns false), hands POST /-/reconfigure bodies to
// opts.Reconfigure, and passes every other request to h.
//
// When ctx is cancelled or the process receives SIGTERM or SIGINT, Serve
// stops accepting connections and waits for in-flight requests to finish,
// for at most opts.ShutdownTimeout. It returns nil after a clean drain, an
// error if the drain timed out (remaining connections are then closed) or
// if the listener could not be opened or failed.
func Serve(ctx context.Context, h http.Handler, opts ServeOptions) error {
	if h == nil {
		return errors.New("replica: Serve needs a handler")
	}
	addr := opts.Addr
	if addr == "" {
		addr = FromEnv().Addr()
	}
	if addr == "" {
		return fmt.Errorf("replica: no address to listen on: set $%s or ServeOptions.Addr", EnvPort)
	}
	opts = withDefaults(opts)
	log := opts.Logger

	// Register for signals before listening, so a SIGTERM that arrives as
	// soon as the replica is reachable is a drain and not a kill.
	sigCtx, stopSignals := signal.NotifyContext(ctx, syscall.SIGTERM, os.Interrupt)
	defer stopSignals()

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("replica: listen: %w", err)
	}
	srv := &http.Server{
		Handler:           protocolHandler(h, opts),
		ReadHeaderTimeout: opts.ReadHeaderTimeout,
		ReadTimeout:       opts.ReadTimeout,
		WriteTimeout:      opts.WriteTimeout,
		IdleTimeout:       opts.IdleTimeout,
		MaxHeaderBytes:    opts.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("replica listening", "addr", ln.Addr().String())
	if opts.Ready != nil {
		opts.Ready(ln.Addr())
	}

	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve(ln) }()

	select {
	case err := <-serveErr:
		// Serve only returns early on a listener failure.
		return fmt.Errorf("replica: serve: %w", err)
	case <-sigCtx.Done():
	}
	stopSignals() // a second SIGINT or SIGTERM now gets its default action
	why := "context cancelled"
	if ctx.Err() == nil {
		why = "signal"
	}
	log.Info("replica draining", "reason", why, "timeout", opts.ShutdownTimeout.String())

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), opts.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(shutdownCtx)
	<-serveErr // http.ErrServerClosed once Shutdown has closed the listener
	if err != nil {
		_ = srv.Close()
		return fmt.Errorf("replica: in-flight requests still running after %s; connections closed: %w",
			opts.ShutdownTimeout, err)
	}
	log.Info("replica stopped")
	return nil
}

func withDefaults(o ServeOptions) ServeOptions {
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = DefaultShutdownTimeout
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = DefaultReadHeaderTimeout
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = DefaultIdleTimeout
	}
	if o.MaxHeaderBytes <= 0 {
		o.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// protocolHandler answers the replica protocol's own paths and passes the
// rest to h.
func protocolHandler(h http.Handler, opts ServeOptions) http.Handler {
	reconfigure := make(chan struct{}, 1) // a one-slot lock that respects request cancellation
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case HealthPath:
			serveHealth(w, r, opts.Healthy)
		case ReconfigurePath:
			select {
			case reconfigure <- struct{}{}:
				defer func() { <-reconfigure }()
			case <-r.Context().Done():
				return
			}
			serveReconfigure(w, r, opts.Reconfigure)
		default:
			h.ServeHTTP(w, r)
		}
	})
}

func serveHealth(w http.ResponseWriter, r *http.Request, healthy func() bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		methodNotAllowed(w, "GET, HEAD")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if healthy != nil && !healthy() {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = io.WriteString(w, "unhealthy\n")
		return
	}
	_, _ = io.WriteString(w, "ok")
}

func serveReconfigure(w http.ResponseWriter, r *http.Request, reconfigure func(json.RawMessage) error) {
	if r.Method != http.MethodPost {
		methodNotAllowed(w, "POST")
		return
	}
	if reconfigure == nil {
		textError(w, http.StatusNotImplemented, "this replica does not accept user_config updates")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReconfigureBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			textError(w, http.StatusRequestEntityTooLarge,
				fmt.Sprintf("user_config is larger than %d bytes", maxReconfigureBytes))
			return
		}
		textError(w, http.StatusBadRequest, "reading user_config: "+err.Error())
		return
	}
	raw := json.RawMessage(strings.TrimSpace(string(body)))
	if len(raw) == 0 {
		raw = json.RawMessage("null")
	}
	if !json.Valid(raw) {
		textError(w, http.StatusBadRequest, "user_config is not valid JSON")
		return
	}
	if err := reconfigure(raw); err != nil {
		textError(w, http.StatusBadRequest, "reconfigure: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = io.WriteString(w, "ok")
}

func methodNotAllowed(w http.ResponseWriter, allow string) {
	w.Header().Set("Allow", allow)
	textError(w, http.StatusMethodNotAllowed, "method not allowed; use "+allow)
}

func textError(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, msg+"\n")
}

package config

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// Validate checks the config and returns a *Error listing every
// problem found, or nil. It checks values, not the document's shape: Parse
// also rejects unknown fields and values of the wrong type.
func (c *Config) Validate() error {
	if p := c.problems(); len(p) > 0 {
		return &Error{Problems: p}
	}
	return nil
}

// validator collects problems; it never stops at the first.
type validator struct {
	problems []Problem
}

func (v *validator) addf(path, format string, args ...any) {
	v.problems = append(v.problems, Problem{Path: path, Message: fmt.Sprintf(format, args...)})
}

// oneOf reports s unless it is empty (the default) or one of allowed.
func (v *validator) oneOf(path, s string, allowed ...string) {
	if s != "" && !slices.Contains(allowed, s) {
		v.addf(path, "must be one of %s; got %q", strings.Join(allowed, ", "), s)
	}
}

// positive reports a set value that is not > 0.
func (v *validator) positive(path string, f *float64) {
	if f != nil && !(*f > 0) {
		v.addf(path, "must be > 0, got %s", fmtFloat(*f))
	}
}

// nonNegative reports a set value that is not >= 0.
func (v *validator) nonNegative(path string, f *float64) {
	if f != nil && !(*f >= 0) {
		v.addf(path, "must be >= 0, got %s", fmtFloat(*f))
	}
}

// port reports a port outside 1..65535; 0 means the default.
func (v *validator) port(path string, p, def int) {
	if p < 0 || p > 65535 {
		v.addf(path, "must be a port in 1..65535 (or omitted for %d), got %d", def, p)
	}
}

func fmtFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// problems returns everything wrong with c, in document order.
func (c *Config) problems() []Problem {
	v := &validator{}
	v.oneOf("proxy_location", c.ProxyLocation, "EveryNode", "HeadOnly", "Disabled")
	v.httpOptions(&c.HTTPOptions)
	v.grpcOptions(&c.GRPCOptions)
	v.port("dashboard.port", c.Dashboard.Port, DefaultDashboardPort)
	v.listeners(c)
	v.logging("logging_config", c.LoggingConfig)
	v.applications(c.Applications)
	v.workerGroups(c.WorkerGroups)
	return append(v.problems, ValidatePlacement(c)...)
}

func (v *validator) httpOptions(h *HTTPOptions) {
	const p = "http_options"
	v.port(p+".port", h.Port, DefaultHTTPPort)
	if h.RootPath != "" && !strings.HasPrefix(h.RootPath, "/") {
		v.addf(p+".root_path", `must be empty or start with "/", got %q`, h.RootPath)
	}
	v.positive(p+".request_timeout_s", h.RequestTimeoutS)
	v.positive(p+".keep_alive_timeout_s", h.KeepAliveTimeoutS)
	if h.MaxRequestBodyBytes < 0 {
		v.addf(p+".max_request_body_bytes", "must be >= 1 (or omitted for %d), got %d", DefaultMaxRequestBodyBytes, h.MaxRequestBodyBytes)
	}
	if h.MaxHeaderBytes < 0 {
		v.addf(p+".max_header_bytes", "must be >= 1 (or omitted for %d), got %d", DefaultMaxHeaderBytes, h.MaxHeaderBytes)
	}
	v.positive(p+".read_header_timeout_s", h.ReadHeaderTimeoutS)
	v.positive(p+".min_body_rate_bytes_per_s", h.MinBodyRateBytesPerS)
	v.positive(p+".min_response_rate_bytes_per_s", h.MinResponseRateBytesPerS)
	v.positive(p+".slow_client_grace_s", h.SlowClientGraceS)
	atLeastOne(v, p+".max_infer_body_bytes", h.MaxInferBodyBytes, DefaultMaxInferBodyBytes, math.MaxInt64)
	atLeastOne(v, p+".max_connections", h.MaxConnections, DefaultMaxConnections, maxConnections)
}

// maxConnections is the largest max_connections: more than any process
// can hold open.
const maxConnections = 1 << 24

// atLeastOne reports a set count outside 1..most.
func atLeastOne[T int | int64](v *validator, path string, n *T, def, most T) {
	if n != nil && (*n < 1 || *n > most) {
		v.addf(path, "must be in 1..%d (or omitted for %d), got %d", most, def, *n)
	}
}

func (v *validator) grpcOptions(g *GRPCOptions) {
	const p = "grpc_options"
	v.port(p+".port", g.Port, DefaultGRPCPort)
	if len(g.GRPCServicerFunctions) > 0 {
		v.addf(p+".grpc_servicer_functions", "not supported: Gantry proxies gRPC to replicas that set "+
			"replica.protocol: grpc, without servicer functions; remove this list")
	}
	v.positive(p+".request_timeout_s", g.RequestTimeoutS)
	atLeastOne(v, p+".max_receive_message_bytes", g.MaxReceiveMessageBytes, DefaultMaxReceiveMessageBytes, math.MaxInt32)
	atLeastOne(v, p+".max_concurrent_streams", g.MaxConcurrentStreams, DefaultMaxConcurrentStreams, math.MaxInt32)
	atLeastOne(v, p+".max_connections", g.MaxConnections, DefaultMaxConnections, maxConnections)
}

// listeners reports two listeners on the same port.
func (v *validator) listeners(c *Config) {
	type listener struct {
		name, path    string
		port, def     int
		explicit, bad bool
	}
	ls := []listener{
		{"HTTP", "http_options.port", c.HTTPOptions.Port, DefaultHTTPPort, false, false},
		{"gRPC", "grpc_options.port", c.GRPCOptions.Port, DefaultGRPCPort, false, false},
		{"dashboard", "dashboard.port", c.Dashboard.Port, DefaultDashboardPort, false, false},
	}
	for i := range ls {
		l := &ls[i]
		l.explicit, l.bad = l.port != 0, l.port < 0 || l.port > 65535
		if !l.explicit {
			l.port = l.def
		}
	}
	for i, a := range ls {
		for _, b := range ls[:i] {
			if a.bad || b.bad || a.port != b.port {
				continue
			}
			at, other := a, b
			if !a.explicit {
				at, other = b, a
			}
			how := other.path
			if !other.explicit {
				how += fmt.Sprintf(", default %d", other.def)
			}
			v.addf(at.path, "port %d is also the %s port (%s); the HTTP, gRPC and dashboard listeners need distinct ports",
				at.port, other.name, how)
		}
	}
}

func (v *validator) logging(p string, l *LoggingConfig) {
	if l == nil {
		return
	}
	v.oneOf(p+".encoding", l.Encoding, "TEXT", "JSON")
	v.oneOf(p+".log_level", l.LogLevel, "DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
}

func (v *validator) applications(apps []Application) {
	if len(apps) == 0 {
		v.addf("applications", "at least one application is required")
		return
	}
	names := map[string]int{}
	prefixes := map[string]int{}
	for i := range apps {
		a := &apps[i]
		p := pathIndex("applications", i)
		name := a.EffectiveName()
		switch j, dup := names[name]; {
		case dup && a.Name == "":
			v.addf(p+".name", "is omitted, so it defaults to %q, which applications[%d] already uses; give every application a unique name", name, j)
		case dup:
			v.addf(p+".name", "%q is already used by applications[%d]; application names must be unique", name, j)
		default:
			names[name] = i
		}
		v.name(p+".name", "application", name)
		v.routePrefix(p, i, a, prefixes)
		if a.ImportPath != "" {
			v.addf(p+".import_path", "not supported (got %q): Gantry runs replica processes, not Python import paths; "+
				"set deployments[].replica.command instead (for Python replicas, run your server with the Gantry Python SDK)", a.ImportPath)
		}
		if len(a.RuntimeEnv) > 0 {
			v.addf(p+".runtime_env", "not supported: Gantry does not build Python environments; put environment variables "+
				"in deployments[].replica.env and install dependencies into the replica's image or venv")
		}
		if len(a.Args) > 0 {
			v.addf(p+".args", "not supported: application builder args need Ray's Python runtime; "+
				"pass settings through deployments[].replica.env or user_config")
		}
		v.logging(p+".logging_config", a.LoggingConfig)
		v.deployments(p, a)
	}
}

// routePrefix checks the route_prefix of applications[i] and that it is
// unique among prefixes (prefix -> application index).
func (v *validator) routePrefix(p string, i int, a *Application, prefixes map[string]int) {
	prefix, exposed := a.Route()
	if !exposed {
		return
	}
	p += ".route_prefix"
	switch {
	case !strings.HasPrefix(prefix, "/"):
		v.addf(p, `must start with "/", got %q`, prefix)
		return
	case prefix != "/" && strings.HasSuffix(prefix, "/"):
		v.addf(p, `must not end with "/" (unless it is "/"), got %q`, prefix)
	case strings.ContainsAny(prefix, "{}"):
		v.addf(p, `must not contain "{" or "}", got %q`, prefix)
	case strings.ContainsFunc(prefix, isControl):
		// It is sent to replicas as X-Forwarded-Prefix.
		v.addf(p, "must not contain control characters such as NUL or line breaks, got %q", prefix)
	case reservedPrefix(prefix):
		v.addf(p, "%q is reserved: paths under /-/ are the gateway's own and paths under /v2/ are the "+
			"Open Inference Protocol's; choose another prefix", prefix)
	}
	if j, dup := prefixes[prefix]; dup {
		how := ""
		if a.RoutePrefix == nil {
			how = " (the default)"
		}
		v.addf(p, "%q%s is already used by applications[%d]; route prefixes must be unique", prefix, how, j)
		return
	}
	prefixes[prefix] = i
}

// reservedPrefix reports whether prefix is, or is under, /-/ or /v2.
func reservedPrefix(prefix string) bool {
	for _, r := range []string{"/-", "/v2"} {
		if prefix == r || strings.HasPrefix(prefix, r+"/") {
			return true
		}
	}
	return false
}

func (v *validator) deployments(p string, a *Application) {
	if len(a.Deployments) == 0 {
		v.addf(p+".deployments", "at least one deployment is required")
	}
	seen := map[string]int{}
	var names []string
	for j := range a.Deployments {
		d := &a.Deployments[j]
		dp := pathIndex(p+".deployments", j)
		switch k, dup := seen[d.Name]; {
		case d.Name == "":
			v.addf(dp+".name", "is required")
		case dup:
			v.addf(dp+".name", "%q is already used by deployments[%d]; deployment names must be unique within an application", d.Name, k)
		default:
			seen[d.Name] = j
			names = append(names, strconv.Quote(d.Name))
		}
		v.name(dp+".name", "deployment", d.Name)
		v.deployment(dp, d)
	}
	if _, ok := seen[a.Ingress]; a.Ingress != "" && !ok {
		v.addf(p+".ingress", "%q is not a deployment of this application; must be one of: %s", a.Ingress, strings.Join(names, ", "))
	}
}

func (v *validator) workerGroups(groups []WorkerGroup) {
	names := map[string]int{}
	for i := range groups {
		g := &groups[i]
		p := pathIndex("worker_groups", i)
		switch j, dup := names[g.Name]; {
		case g.Name == "":
			v.addf(p+".name", "is required")
		case dup:
			v.addf(p+".name", "%q is already used by worker_groups[%d]; worker group names must be unique", g.Name, j)
		default:
			names[g.Name] = i
		}
		if g.Name != "" {
			v.workerGroupName(p+".name", g.Name)
		}
		if g.Accelerator == "" {
			v.addf(p+".accelerator", `is required, e.g. "tpu-v4-podslice"`)
		}
		chips, err := topologyChips(g.Topology)
		if err != nil {
			v.addf(p+".topology", "%v", err)
		}
		switch {
		case g.ChipsPerHost < 1:
			v.addf(p+".chips_per_host", "must be >= 1, got %d", g.ChipsPerHost)
		case chips > 0 && chips%g.ChipsPerHost != 0:
			v.addf(p+".chips_per_host", "must divide the %d chips of topology %q into whole hosts; got %d, which gives %s hosts",
				chips, g.Topology, g.ChipsPerHost, strconv.FormatFloat(float64(chips)/float64(g.ChipsPerHost), 'f', 2, 64))
		}
		v.groupReplicas(p, g)
	}
}

// groupReplicas checks 0 <= min_replicas <= replicas <= max_replicas.
func (v *validator) groupReplicas(p string, g *WorkerGroup) {
	if g.Replicas < 0 {
		v.addf(p+".replicas", "must be >= 0, got %d", g.Replicas)
	}
	if g.MinReplicas != nil && *g.MinReplicas < 0 {
		v.addf(p+".min_replicas", "must be >= 0, got %d", *g.MinReplicas)
	}
	if g.MaxReplicas != nil && *g.MaxReplicas < 0 {
		v.addf(p+".max_replicas", "must be >= 0, got %d", *g.MaxReplicas)
	}
	if g.MinReplicas != nil && g.MaxReplicas != nil && *g.MinReplicas > *g.MaxReplicas {
		v.addf(p+".min_replicas", "must be <= max_replicas (%d), got %d", *g.MaxReplicas, *g.MinReplicas)
		return
	}
	if g.MinReplicas != nil && g.Replicas < *g.MinReplicas {
		v.addf(p+".replicas", "must be >= min_replicas (%d), got %d", *g.MinReplicas, g.Replicas)
	}
	if g.MaxReplicas != nil && g.Replicas > *g.MaxReplicas {
		v.addf(p+".replicas", "must be <= max_replicas (%d), got %d", *g.MaxReplicas, g.Replicas)
	}
}

// maxChips bounds a topology's chip count, so that the product cannot overflow.
const maxChips = 1 << 20

// topologyChips returns the chip count of a topology like "2x2x1" or "2x4".
func topologyChips(topology string) (int, error) {
	dims := strings.Split(topology, "x")
	bad := fmt.Errorf(`must be positive integers joined by "x", like "2x2x1" or "2x4"; got %q`, topology)
	if len(dims) < 2 {
		return 0, bad
	}
	chips := 1
	for _, d := range dims {
		n, err := strconv.Atoi(d)
		if err != nil || n < 1 || d[0] == '+' {
			return 0, bad
		}
		if n > maxChips || chips*n > maxChips {
			return 0, fmt.Errorf("%q has more than %d chips", topology, maxChips)
		}
		chips *= n
	}
	return chips, nil
}

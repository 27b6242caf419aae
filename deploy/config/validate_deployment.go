package config

import (
	"slices"
	"strings"
)

// reservedEnv are the variables Gantry sets for every replica.
var reservedEnv = []string{"PORT", "GANTRY_REPLICA_ID", "GANTRY_DEPLOYMENT", "GANTRY_APPLICATION", "GANTRY_USER_CONFIG"}

// deployment checks deployment d at path p; python says its application
// has an import_path, so it has no replica block.
func (v *validator) deployment(p string, d *Deployment, python bool) {
	auto := d.NumReplicas != nil && d.NumReplicas.Auto
	if n := d.NumReplicas; n != nil && !n.Auto {
		if n.Count < 0 {
			v.addf(p+".num_replicas", `must be >= 0 or "auto", got %d`, n.Count)
		}
		if d.AutoscalingConfig != nil {
			v.addf(p+".num_replicas", "a fixed count (%d) cannot be combined with autoscaling_config; "+
				"set num_replicas: auto or remove one of them", n.Count)
		}
	}
	if m := d.MaxOngoingRequests; m != nil && *m < 1 {
		v.addf(p+".max_ongoing_requests", "must be >= 1, got %d", *m)
	}
	if q := d.MaxQueuedRequests; q != nil && *q != -1 && *q < 1 {
		v.addf(p+".max_queued_requests", "must be -1 (unbounded) or >= 1, got %d", *q)
	}
	if d.AutoscalingConfig != nil || auto {
		v.autoscaling(p+".autoscaling_config", d.AutoscalingConfig, auto)
	}
	v.nonNegative(p+".graceful_shutdown_wait_loop_s", d.GracefulShutdownWaitLoopS)
	v.positive(p+".graceful_shutdown_timeout_s", d.GracefulShutdownTimeoutS)
	v.positive(p+".health_check_period_s", d.HealthCheckPeriodS)
	v.positive(p+".health_check_timeout_s", d.HealthCheckTimeoutS)
	if n := jsonDepth(d.UserConfig); n > MaxUserConfigDepth {
		v.addf(p+".user_config", "nested %d levels deep; at most %d levels of lists and objects are allowed", n, MaxUserConfigDepth)
	}
	v.actorOptions(p+".ray_actor_options", d.RayActorOptions)
	switch {
	case python && d.Replica != nil:
		v.addf(p+".replica", "must not be set in an application with import_path: its deployments run on the Python "+
			"SDK's runner (python -m gantry_serve.replica); remove replica, or remove import_path and run your own command")
	case !python:
		v.replica(p+".replica", d.Replica)
	}
}

// autoscaling checks an autoscaling_config; a is nil for num_replicas: auto
// without one. Bounds are checked with the defaults filled in: min 1, max 1
// (max 100 with num_replicas: auto).
func (v *validator) autoscaling(p string, a *AutoscalingConfig, auto bool) {
	if a == nil {
		return // the defaults are valid
	}
	lo, hi := 1, 1
	if auto {
		hi = 100
	}
	okBounds := true
	if a.MinReplicas != nil {
		if lo = *a.MinReplicas; lo < 0 {
			v.addf(p+".min_replicas", "must be >= 0, got %d", lo)
			okBounds = false
		}
	}
	if a.MaxReplicas != nil {
		if hi = *a.MaxReplicas; hi < 1 {
			v.addf(p+".max_replicas", "must be >= 1, got %d", hi)
			okBounds = false
		}
	}
	if okBounds && lo > hi {
		okBounds = false
		if a.MaxReplicas != nil {
			v.addf(p+".min_replicas", "must be <= max_replicas (%d), got %d", hi, lo)
		} else {
			v.addf(p+".min_replicas", "must be <= max_replicas, which defaults to %d; got %d (set max_replicas too)", hi, lo)
		}
	}
	if i := a.InitialReplicas; i != nil && okBounds && (*i < lo || *i > hi) {
		v.addf(p+".initial_replicas", "must be within min_replicas..max_replicas (%d..%d), got %d", lo, hi, *i)
	}
	v.positive(p+".target_ongoing_requests", a.TargetOngoingRequests)
	v.positive(p+".metrics_interval_s", a.MetricsIntervalS)
	v.positive(p+".look_back_period_s", a.LookBackPeriodS)
	v.nonNegative(p+".upscale_delay_s", a.UpscaleDelayS)
	v.nonNegative(p+".downscale_delay_s", a.DownscaleDelayS)
	v.nonNegative(p+".downscale_to_zero_delay_s", a.DownscaleToZeroDelayS)
	v.positive(p+".upscaling_factor", a.UpscalingFactor)
	v.positive(p+".downscaling_factor", a.DownscalingFactor)
	v.positive(p+".smoothing_factor", a.SmoothingFactor)
	v.positive(p+".upscale_smoothing_factor", a.UpscaleSmoothingFactor)
	v.positive(p+".downscale_smoothing_factor", a.DownscaleSmoothing)
	v.oneOf(p+".aggregation_function", a.AggregationFunction, "mean", "max", "min")
}

func (v *validator) actorOptions(p string, o *RayActorOptions) {
	if o == nil {
		return
	}
	v.nonNegative(p+".num_cpus", o.NumCPUs)
	v.nonNegative(p+".num_gpus", o.NumGPUs)
	v.nonNegative(p+".memory", o.Memory)
	for _, k := range keysSorted(o.Resources) {
		r := o.Resources[k]
		v.nonNegative(pathKey(p+".resources", k), &r)
	}
	if len(o.RuntimeEnv) > 0 {
		v.addf(p+".runtime_env", "not supported per deployment: set the application's runtime_env (working_dir, env_vars), "+
			"and install dependencies into the application's python (or the replica's image or venv)")
	}
}

func (v *validator) replica(p string, r *ReplicaConfig) {
	if r == nil {
		v.addf(p, `is required: it says how to run one replica, e.g. replica: {command: ["python3", "server.py"]}; `+
			`or give the application an import_path to run a Ray Serve Python application on the gantry-serve runner`)
		return
	}
	switch {
	case len(r.Command) == 0:
		v.addf(p+".command", `is required: the program to run and its arguments, e.g. ["python3", "server.py"]`)
	case r.Command[0] == "":
		v.addf(p+".command", "must name the program to run as its first element, got an empty string")
	}
	v.oneOf(p+".protocol", r.Protocol, "http", "grpc")
	if r.HealthPath != "" && !strings.HasPrefix(r.HealthPath, "/") {
		v.addf(p+".health_path", `must start with "/", got %q`, r.HealthPath)
	}
	for _, k := range keysSorted(r.Env) {
		switch {
		case k == "" || strings.ContainsAny(k, "=\x00"):
			v.addf(pathKey(p+".env", k), `is not a valid variable name: it must be non-empty without "=" or NUL`)
		case slices.Contains(reservedEnv, k):
			v.addf(pathKey(p+".env", k), "is set by Gantry for every replica; Gantry sets %s", strings.Join(reservedEnv, ", "))
		}
	}
}

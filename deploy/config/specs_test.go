package config

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

func TestSpecsMinimal(t *testing.T) {
	c := mustLoad(t, "testdata/minimal.good.yaml")
	dir, _ := filepath.Abs("testdata")
	if c.BaseDir != dir {
		t.Fatalf("BaseDir = %q, want %q", c.BaseDir, dir)
	}
	specs := c.Specs(self)
	if len(specs) != 2 {
		t.Fatalf("got %d specs, want 2", len(specs))
	}
	echo, model := specs[0], specs[1]
	want := DeploymentSpec{
		Application:              "default",
		Name:                     "echo",
		RoutePrefix:              "/",
		Ingress:                  true,
		NumReplicas:              1,
		MaxOngoingRequests:       5,
		MaxQueuedRequests:        -1,
		GracefulShutdownWaitLoop: 2 * time.Second,
		GracefulShutdownTimeout:  20 * time.Second,
		HealthCheckPeriod:        10 * time.Second,
		HealthCheckTimeout:       30 * time.Second,
		Command:                  []string{self, "example-replica", "--mode", "echo"},
		WorkingDir:               dir,
		Protocol:                 "http",
		HealthPath:               "/-/healthz",
		Code: Code{Replica: ReplicaConfig{
			Command:    []string{"gantry", "example-replica", "--mode", "echo"},
			WorkingDir: dir, Protocol: "http", HealthPath: "/-/healthz",
		}},
		CodeVersion: echo.CodeVersion,
	}
	if !reflect.DeepEqual(echo, want) {
		t.Errorf("echo spec:\n got %+v\nwant %+v", echo, want)
	}
	if len(echo.CodeVersion) != 16 {
		t.Errorf("CodeVersion %q: want 16 hex digits", echo.CodeVersion)
	}
	if model.Ingress || model.Name != "model" {
		t.Errorf("model: Ingress = %v, Name = %q; want false, model", model.Ingress, model.Name)
	}
	if got, want := model.Command, []string{filepath.Join(dir, "bin/model"), "--port-from-env"}; !reflect.DeepEqual(got, want) {
		t.Errorf("model command = %q, want %q", got, want)
	}
	if got, want := model.WorkingDir, filepath.Join(dir, "data"); got != want {
		t.Errorf("model working dir = %q, want %q", got, want)
	}
	if model.CodeVersion == echo.CodeVersion {
		t.Error("different replicas have the same CodeVersion")
	}
}

func TestSpecsWithoutBaseDir(t *testing.T) {
	c := mustParse(t, `
applications:
  - deployments:
      - {name: a, replica: {command: [./bin/x, ./arg], working_dir: w}}
      - {name: b, replica: {command: [python3, bin/y.py]}}
      - {name: c, replica: {command: [gantry]}}
`)
	specs := c.Specs("")
	for i, want := range [][]string{{"./bin/x", "./arg"}, {"python3", "bin/y.py"}, {"gantry"}} {
		if !reflect.DeepEqual(specs[i].Command, want) {
			t.Errorf("%s: command = %q, want %q", specs[i].Name, specs[i].Command, want)
		}
	}
	if specs[0].WorkingDir != "w" || specs[1].WorkingDir != "" {
		t.Errorf("working dirs = %q, %q; want w and empty", specs[0].WorkingDir, specs[1].WorkingDir)
	}
	c.BaseDir = "/srv/cfg"
	specs = c.Specs(self)
	if got := specs[0].Command; got[0] != "/srv/cfg/bin/x" || got[1] != "./arg" {
		t.Errorf("command = %q, want [/srv/cfg/bin/x ./arg]", got)
	}
	if got := specs[1].Command[0]; got != "python3" {
		t.Errorf("bare name resolved to %q; want it left for PATH lookup", got)
	}
	if got := specs[0].WorkingDir; got != "/srv/cfg/w" {
		t.Errorf("working dir = %q, want /srv/cfg/w", got)
	}
}

func TestSpecsFull(t *testing.T) {
	c := mustLoad(t, "testdata/full.good.yaml")
	specs := c.Specs(self)
	by := map[string]DeploymentSpec{}
	for _, s := range specs {
		by[s.Application+"/"+s.Name] = s
	}
	api := by["stable_diffusion/api"]
	if !api.Ingress || api.RoutePrefix != "/imagine" || api.NumReplicas != 2 || !api.Idempotent {
		t.Errorf("api: %+v", api)
	}
	if api.RequestTimeout != 30*time.Second || api.GracefulShutdownWaitLoop != 0 || api.HealthCheckPeriod != time.Second {
		t.Errorf("api durations: %+v", api)
	}
	a := api.Autoscaling
	if a == nil || *a.MinReplicas != 0 || *a.MaxReplicas != 8 || *a.InitialReplicas != 2 ||
		*a.TargetOngoingRequests != 3 || *a.UpscalingFactor != 1.5 || a.AggregationFunction != "max" {
		t.Errorf("api autoscaling: %+v", a)
	}
	var uc map[string]any
	if err := json.Unmarshal(api.UserConfig, &uc); err != nil || uc["steps"] != float64(20) {
		t.Errorf("api user_config %s: %v", api.UserConfig, err)
	}
	if s := by["stable_diffusion/safety"]; s.Ingress || s.NumReplicas != 0 || s.UserConfig != nil || s.Protocol != "grpc" {
		t.Errorf("safety: %+v", s)
	}
	b := by["internal/batcher"]
	if b.RoutePrefix != "" || b.Autoscaling == nil || *b.Autoscaling.MaxReplicas != 3 ||
		*b.Autoscaling.MinReplicas != 1 || b.NumReplicas != 1 {
		t.Errorf("batcher: %+v %+v", b, b.Autoscaling)
	}
	if m := by["metrics/m"]; m.Command[0] != filepath.Join(c.BaseDir, "bin/metrics") || string(m.UserConfig) != `"just a string"` {
		t.Errorf("metrics: %+v", m)
	}
	for got, want := range map[string]string{
		c.HTTPAddr(): "0.0.0.0:8080", c.GRPCAddr(): "0.0.0.0:9090", c.DashboardAddr(): "127.0.0.1:8266",
	} {
		if got != want {
			t.Errorf("address %q, want %q", got, want)
		}
	}
	if c.KeepAliveTimeout() != 5*time.Second || c.MaxRequestBodyBytes() != 1<<20 || c.MaxHeaderBytes() != 65536 ||
		c.GRPCRequestTimeout() != 10500*time.Millisecond {
		t.Errorf("listener settings: %v %v %v %v", c.KeepAliveTimeout(), c.MaxRequestBodyBytes(), c.MaxHeaderBytes(), c.GRPCRequestTimeout())
	}
	if g := c.WorkerGroups[0]; g.Chips() != 8 || g.Hosts() != 2 {
		t.Errorf("v4 2x2x2 with 4 chips per host: chips %d hosts %d, want 8 and 2", g.Chips(), g.Hosts())
	}
	if g := c.WorkerGroups[1]; g.Chips() != 8 || g.Hosts() != 1 {
		t.Errorf("v5e 2x4: chips %d hosts %d, want 8 and 1", g.Chips(), g.Hosts())
	}
}

func TestListenerDefaults(t *testing.T) {
	c := mustLoad(t, "testdata/minimal.good.yaml")
	if c.HTTPAddr() != "127.0.0.1:8000" || c.GRPCAddr() != "127.0.0.1:9000" || c.DashboardAddr() != "127.0.0.1:8265" {
		t.Errorf("addresses %s %s %s", c.HTTPAddr(), c.GRPCAddr(), c.DashboardAddr())
	}
	if c.KeepAliveTimeout() != 90*time.Second || c.MaxRequestBodyBytes() != 100<<20 || c.MaxHeaderBytes() != 1<<20 {
		t.Errorf("defaults %v %v %v", c.KeepAliveTimeout(), c.MaxRequestBodyBytes(), c.MaxHeaderBytes())
	}
	if c.RequestTimeout() != 0 || c.GRPCRequestTimeout() != 0 {
		t.Errorf("request timeouts %v %v, want none", c.RequestTimeout(), c.GRPCRequestTimeout())
	}
}

func TestAutoscalingDefaults(t *testing.T) {
	c := mustParse(t, `
applications:
  - deployments:
      - {name: auto, num_replicas: auto, replica: {command: [x]}}
      - name: merged
        num_replicas: auto
        autoscaling_config: {max_replicas: 5, smoothing_factor: 0.5, downscale_delay_s: 60}
        replica: {command: [x]}
      - {name: fixed, num_replicas: 4, replica: {command: [x]}}
`)
	specs := c.Specs(self)
	a := specs[0].Autoscaling
	if a == nil || *a.MinReplicas != 1 || *a.MaxReplicas != 100 || *a.TargetOngoingRequests != 2 ||
		*a.InitialReplicas != 1 || *a.UpscaleDelayS != 30 || *a.DownscaleDelayS != 600 ||
		*a.DownscaleToZeroDelayS != 600 || *a.LookBackPeriodS != 30 || *a.MetricsIntervalS != 10 ||
		*a.UpscalingFactor != 1 || *a.DownscalingFactor != 1 || a.AggregationFunction != "mean" {
		t.Errorf("auto defaults: %+v", a)
	}
	if specs[0].NumReplicas != 1 {
		t.Errorf("auto: NumReplicas = %d, want min_replicas 1", specs[0].NumReplicas)
	}
	m := specs[1].Autoscaling
	if *m.MinReplicas != 1 || *m.MaxReplicas != 5 || *m.TargetOngoingRequests != 2 ||
		*m.UpscalingFactor != 0.5 || *m.DownscalingFactor != 0.5 || *m.DownscaleToZeroDelayS != 60 {
		t.Errorf("merged: %+v", m)
	}
	if c.Applications[0].Deployments[1].AutoscalingConfig.MinReplicas != nil {
		t.Error("Specs changed the config")
	}
	if specs[2].Autoscaling != nil || specs[2].NumReplicas != 4 {
		t.Errorf("fixed: %+v", specs[2])
	}
}

func TestCodeVersion(t *testing.T) {
	const base = `
applications:
  - deployments:
      - name: d
        num_replicas: %s
        max_ongoing_requests: %s
        user_config: %s
        ray_actor_options: {num_cpus: %s}
        replica:
          command: [%s]
          env: {A: "%s"}
          %s
`
	version := func(numReplicas, maxOngoing, userConfig, cpus, command, env, extra string) string {
		t.Helper()
		doc := fmt.Sprintf(base, numReplicas, maxOngoing, userConfig, cpus, command, env, extra)
		return mustParse(t, doc).Specs(self)[0].CodeVersion
	}
	v := version("1", "5", "{a: 1}", "1", "x", "1", "")
	for what, same := range map[string]string{
		"num_replicas":              version("7", "5", "{a: 1}", "1", "x", "1", ""),
		"num_replicas auto":         version("auto", "5", "{a: 1}", "1", "x", "1", ""),
		"max_ongoing_requests":      version("1", "9", "{a: 1}", "1", "x", "1", ""),
		"user_config":               version("1", "5", "{a: 2, b: [1]}", "1", "x", "1", ""),
		"explicit default protocol": version("1", "5", "{a: 1}", "1", "x", "1", "protocol: http"),
	} {
		if same != v {
			t.Errorf("changing %s changed CodeVersion", what)
		}
	}
	for what, diff := range map[string]string{
		"replica.env":                version("1", "5", "{a: 1}", "1", "x", "2", ""),
		"replica.command":            version("1", "5", "{a: 1}", "1", "z", "1", ""),
		"replica.image":              version("1", "5", "{a: 1}", "1", "x", "1", "image: img:2"),
		"ray_actor_options.num_cpus": version("1", "5", "{a: 1}", "2", "x", "1", ""),
	} {
		if diff == v {
			t.Errorf("changing %s did not change CodeVersion", what)
		}
	}
}

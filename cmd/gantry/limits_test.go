package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gantry.dev/gantry/deploy/config"
	"gantry.dev/gantry/internal/testenv"
)

// Limits on configs, replayed against a real `gantry serve` with real
// replica processes on the local backend (issue 14, findings 4 and 8).

// appConfig is a JSON config with one application at /long whose
// deployment runs the test replica with userConfig (JSON) as user_config.
func appConfig(app, dep, userConfig string) string {
	return `{"applications":[{"name":` + strconv.Quote(app) + `,"route_prefix":"/long","deployments":[{"name":` +
		strconv.Quote(dep) + `,"replica":{"command":[` + strconv.Quote(testreplicaPath()) + `]},"user_config":` + userConfig + `}]}]}`
}

// Finding 8: a 300-byte application name used to pass validation, then fail
// when the replica's log file was created. It is refused with the limit,
// and names at the limit run: the replica's log file is created.
func TestNamesAreLimitedToWhatTheLocalBackendHolds(t *testing.T) {
	g := startEmptyGateway(t)
	api := g.dashboardURL + "/api/serve/applications/"

	resp := testenv.Call(t, "PUT", api, appConfig(strings.Repeat("a", 300), "d", "{}"))
	if resp.Code != 400 || !strings.Contains(resp.Body, "applications[0].name: at most 100 bytes") || !strings.Contains(resp.Body, "got 300") {
		t.Fatalf("PUT of a 300-byte application name: %d %s; want 400 naming the field and the limit", resp.Code, resp.Body)
	}

	app, dep := strings.Repeat("a", config.MaxNameBytes), strings.Repeat("d", config.MaxNameBytes)
	if resp := testenv.Call(t, "PUT", api, appConfig(app, dep, "{}")); resp.Code != 200 {
		t.Fatalf("PUT with names at the limit: %d %s", resp.Code, resp.Body)
	}
	g.until(t, 30*time.Second, "the application with the longest names to answer", func() bool {
		code, _, err := testenv.TryGet(g.url + "/long/id")
		return err == nil && code == 200
	})
	logs, err := filepath.Glob(filepath.Join(g.stateDir, "logs", app, "*.log"))
	if err != nil || len(logs) != 1 {
		t.Fatalf("want one replica log under logs/%s, got %v (%v)", app, logs, err)
	}
	t.Logf("log file name: %d bytes", len(filepath.Base(logs[0])))
}

// Finding 4: a 60 KB user_config nested 9,990 levels deep was accepted and
// made applied.json 200 MB and the gateway's memory about 1 GB. It is
// refused with the field's path and the limit, and the gateway's peak
// memory stays small; a user_config as deep as allowed is applied, and
// applied.json stays about the size of the config.
func TestDeepUserConfigIsRefusedAndAppliedJSONStaysCompact(t *testing.T) {
	g := startEmptyGateway(t)
	api := g.dashboardURL + "/api/serve/applications/"
	nested := func(n int) string { return strings.Repeat(`{"a":`, n) + "1" + strings.Repeat("}", n) }

	deep := appConfig("app", "d", nested(9990))
	resp := testenv.Call(t, "PUT", api, deep)
	if resp.Code != 400 || !strings.Contains(resp.Body, "applications[0].deployments[0].user_config") ||
		!strings.Contains(resp.Body, strconv.Itoa(config.MaxUserConfigDepth)) {
		t.Fatalf("PUT of a %d-byte user_config nested 9,990 deep: %d %.300s; want 400 naming user_config and the limit",
			len(deep), resp.Code, resp.Body)
	}
	peak := peakRSS(t, g.Cmd.Process.Pid)
	t.Logf("gateway peak RSS after the deep PUT: %d MB", peak>>20)
	if peak > 300<<20 {
		t.Errorf("gateway peak RSS %d MB after one deep PUT, want well under 300 MB", peak>>20)
	}

	allowed := appConfig("app", "d", nested(config.MaxUserConfigDepth))
	if resp := testenv.Call(t, "PUT", api, allowed); resp.Code != 200 {
		t.Fatalf("PUT of a user_config nested %d deep: %d %s", config.MaxUserConfigDepth, resp.Code, resp.Body)
	}
	applied := filepath.Join(g.stateDir, "applied.json")
	var data []byte
	g.until(t, 10*time.Second, "applied.json to hold the config", func() bool {
		data, _ = os.ReadFile(applied)
		return strings.Contains(string(data), `"app"`)
	})
	if len(data) > 2*len(allowed) {
		t.Errorf("applied.json is %d bytes for a %d-byte config; want it compact", len(data), len(allowed))
	}
	var st struct {
		Config json.RawMessage `json:"config"`
	}
	if err := json.Unmarshal(data, &st); err != nil {
		t.Fatalf("applied.json: %v", err)
	}
}

// peakRSS is the peak resident set size of process pid (VmHWM).
func peakRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatalf("VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmHWM in /proc/pid/status")
	return 0
}

"""Ray's own `serve` CLI (pip ray[serve], see requirements.txt) against a real
`gantry serve`: the REST API must be close enough to Ray's dashboard that
`serve status`, `serve config` and `serve shutdown` work unchanged.

Run with `make test-raycli` (which needs the venv `make raycli-venv` makes).
The tests build gantry and the test replica with `go build`, run the gateway
on free loopback ports, and stop everything they started.
"""

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SERVE = Path(sys.executable).parent / "serve"
TOKEN = "raycli-test-token-7d1f"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_for(what, cond, within=60.0):
    deadline = time.monotonic() + within
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def binaries(tmp_path_factory):
    out = tmp_path_factory.mktemp("bin")
    for pkg, name in (("./cmd/gantry", "gantry"), ("./internal/testreplica", "testreplica")):
        subprocess.run(["go", "build", "-o", str(out / name), pkg], cwd=REPO, check=True)
    return out


def ray_env(home, token=None):
    """The environment for Ray's CLI: no Ray settings from outside, a HOME
    of its own (Ray reads ~/.ray/auth_token), and optionally token auth."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["HOME"] = str(home)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    if token:
        env["RAY_AUTH_MODE"] = "token"
        env["RAY_AUTH_TOKEN"] = token
    return env


class Gateway:
    def __init__(self, binaries, tmp_path, token=None, applications=None):
        self.pid_dir = tmp_path / "pids"
        self.pid_dir.mkdir()
        self.http_port, self.dashboard_port = free_port(), free_port()
        self.address = f"http://127.0.0.1:{self.dashboard_port}"
        replica = str(binaries / "testreplica")
        config = tmp_path / "serve.yaml"
        self.names = {a["name"] for a in applications} if applications else {"app", "second"}
        config.write_text(yaml.safe_dump({"applications": applications or [
            {"name": "app", "route_prefix": "/", "deployments": [
                {"name": "d", "num_replicas": 2, "graceful_shutdown_timeout_s": 5,
                 "replica": {"command": [replica], "env": {"TESTREPLICA_PID_DIR": str(self.pid_dir)}}}]},
            {"name": "second", "route_prefix": "/second", "deployments": [
                {"name": "s", "graceful_shutdown_timeout_s": 5,
                 "replica": {"command": [replica], "env": {"TESTREPLICA_PID_DIR": str(self.pid_dir)}}}]},
        ]}))
        args = [str(binaries / "gantry"), "serve", str(config),
                "--http-port", str(self.http_port), "--dashboard-port", str(self.dashboard_port),
                "--grpc-port", str(free_port()),
                "--state-dir", str(tmp_path / "state")]
        if token:
            args += ["--admin-token", token]
        self.log = open(tmp_path / "gantry.log", "wb")
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT)

    def get(self, path):
        with urllib.request.urlopen(self.address + path, timeout=10) as r:
            return json.load(r)

    def applications(self):
        return self.get("/api/serve/applications/")["applications"]

    def all_running(self):
        try:
            apps = self.applications()
        except (urllib.error.URLError, ConnectionError):
            return False
        return set(apps) == self.names and all(a["status"] == "RUNNING" for a in apps.values())

    def pids(self):
        return [int(p.name) for p in self.pid_dir.iterdir()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        for pid in self.pids():  # a failed test leaves no replica behind
            if alive(pid):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def gateway(binaries, tmp_path, request):
    g = Gateway(binaries, tmp_path, token=getattr(request, "param", None))
    try:
        wait_for("both applications RUNNING", g.all_running)
        yield g
    finally:
        g.stop()
        # pytest shows this only for a failed test.
        print("--- gantry log:\n" + (tmp_path / "gantry.log").read_text(errors="replace"))


def serve_cli(*args, env):
    assert SERVE.exists(), f"Ray's serve CLI is not installed next to {sys.executable}"
    return subprocess.run([str(SERVE), *args], env=env, capture_output=True, text=True, timeout=120)


def test_serve_status_config_and_shutdown(gateway, tmp_path):
    env = ray_env(tmp_path)

    # Ray's own model of the answer accepts it as it is.
    from ray.serve.schema import ServeInstanceDetails
    details = ServeInstanceDetails(**gateway.get("/api/serve/applications/"))
    assert set(details.applications) == {"app", "second"}

    r = serve_cli("status", "-a", gateway.address, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    status = yaml.safe_load(r.stdout)
    assert status["applications"]["app"]["status"] == "RUNNING", r.stdout
    d = status["applications"]["app"]["deployments"]["d"]
    assert d["status"] == "HEALTHY"
    assert d["status_trigger"] == "CONFIG_UPDATE_COMPLETED"
    assert d["replica_states"] == {"RUNNING": 2}
    assert status["applications"]["second"]["status"] == "RUNNING"
    assert list(status["proxies"].values()) == ["HEALTHY"]
    assert status["target_capacity"] is None

    r = serve_cli("status", "-a", gateway.address, "-n", "second", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert yaml.safe_load(r.stdout)["status"] == "RUNNING", r.stdout

    # deployed_app_config is null (Ray's schema needs a Python import_path).
    r = serve_cli("config", "-a", gateway.address, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "No configuration was found." in r.stdout

    pids = gateway.pids()
    assert len(pids) == 3 and all(alive(p) for p in pids)
    r = serve_cli("shutdown", "-a", gateway.address, "-y", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "Sent shutdown request" in r.stdout + r.stderr, r.stdout + r.stderr
    wait_for("no applications", lambda: gateway.applications() == {}, within=30)
    wait_for("every replica process to exit", lambda: not any(alive(p) for p in pids), within=30)

    r = serve_cli("status", "-a", gateway.address, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert yaml.safe_load(r.stdout)["applications"] == {}


@pytest.mark.parametrize("gateway", [TOKEN], indirect=True)
def test_serve_shutdown_needs_the_admin_token(gateway, tmp_path):
    r = serve_cli("status", "-a", gateway.address, env=ray_env(tmp_path))
    assert r.returncode == 0, r.stdout + r.stderr  # reads stay open

    r = serve_cli("shutdown", "-a", gateway.address, "-y", env=ray_env(tmp_path))
    assert r.returncode != 0
    assert "401" in r.stdout + r.stderr, r.stdout + r.stderr
    assert set(gateway.applications()) == {"app", "second"}

    pids = gateway.pids()
    r = serve_cli("shutdown", "-a", gateway.address, "-y", env=ray_env(tmp_path, token=TOKEN))
    assert r.returncode == 0, r.stdout + r.stderr
    wait_for("no applications", lambda: gateway.applications() == {}, within=30)
    wait_for("every replica process to exit", lambda: not any(alive(p) for p in pids), within=30)


def test_version_endpoint(gateway):
    v = gateway.get("/api/ray/version")
    assert set(v) == {"version", "ray_version", "ray_commit", "session_name"}
    from packaging.version import Version
    assert Version(v["ray_version"]) >= Version("1.12")


PYAPP = """
from ray import serve

@serve.deployment
class Model:
    def __call__(self, x):
        return x

@serve.deployment
class Ingress:
    def __init__(self, model):
        self.model = model

    async def __call__(self, request):
        return await self.model.remote("ok")

app = Ingress.bind(Model.bind())
"""


def test_import_path_application(binaries, tmp_path):
    """An import_path application (run by gantry-serve from the Python in
    GANTRY_TEST_PYTHON, which make test-go sets) shows in Ray's CLI with its
    deployed_app_config as applied."""
    python = os.environ.get("GANTRY_TEST_PYTHON")
    if not python:
        pytest.skip("GANTRY_TEST_PYTHON is not set: no Python with gantry-serve to run the application")
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "pyapp.py").write_text(PYAPP)
    g = Gateway(binaries, tmp_path, applications=[{
        "name": "py", "route_prefix": "/", "import_path": "pyapp:app", "python": python,
        "runtime_env": {"working_dir": str(tmp_path / "app"), "env_vars": {"A": "b"}},
        "deployments": [{"name": "Model", "num_replicas": 2}],
    }])
    try:
        wait_for("the Python application RUNNING", g.all_running, within=90)
        from ray.serve.schema import ServeInstanceDetails
        details = ServeInstanceDetails(**g.get("/api/serve/applications/"))
        applied = details.applications["py"].deployed_app_config
        assert applied.import_path == "pyapp:app"
        assert applied.runtime_env["env_vars"] == {"A": "b"}
        assert [d.name for d in applied.deployments] == ["Model"]

        env = ray_env(tmp_path)
        r = serve_cli("status", "-a", g.address, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        deps = yaml.safe_load(r.stdout)["applications"]["py"]["deployments"]
        assert deps["Model"]["status"] == "HEALTHY" and deps["Ingress"]["status"] == "HEALTHY", r.stdout
        assert deps["Model"]["replica_states"] == {"RUNNING": 2}, r.stdout

        r = serve_cli("config", "-a", g.address, env=env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert yaml.safe_load(r.stdout)["import_path"] == "pyapp:app", r.stdout
    finally:
        g.stop()
        print("--- gantry log:\n" + (tmp_path / "gantry.log").read_text(errors="replace"))

"""serve.run, serve.start, serve.status, serve.delete, serve.shutdown: local development
against a gateway's REST API.

``serve.run(app)`` deploys the application to the gateway at ``GANTRY_ADDRESS`` (default
``http://127.0.0.1:8265``; ``GANTRY_ADMIN_TOKEN`` is sent when set) as an ``import_path``
application: the gateway imports the module that holds ``app`` from its file's folder, so
``app`` must be a module-level variable of the script (or of an importable module), and the
script's client code belongs under ``if __name__ == "__main__":``. It re-applies the
gateway's whole config (from ``GET /api/gantry/applications``) with only this application
added or replaced, waits until the application is RUNNING and returns a handle to its
ingress. Inside a replica or the builder, ``serve.run`` deploys nothing and returns a handle.
``serve.start()`` starts ``gantry serve`` (from PATH or ``GANTRY_BINARY``) when no gateway
answers and one is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from typing import Any

from . import context, transport
from .deployment import Application
from .exceptions import RayServeException
from .graph import walk
from .handle import DeploymentHandle

DEFAULT_ADDRESS = "http://127.0.0.1:8265"
_started: subprocess.Popen | None = None


def _address() -> str:
    return os.environ.get("GANTRY_ADDRESS", DEFAULT_ADDRESS).rstrip("/")


def _request(method: str, path: str, body: Any = None, timeout: float = 10) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(_address() + path, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    token = os.environ.get("GANTRY_ADMIN_TOKEN", "")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            text = resp.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace").strip()
        raise RayServeException(f"{method} {_address()}{path}: HTTP {exc.code}: {detail}") from None
    return json.loads(text) if text.strip() else None


def _reachable() -> bool:
    try:
        _request("GET", "/api/ray/version", timeout=2)
        return True
    except (OSError, RayServeException):
        return False


def start(**_ray_options: Any) -> None:
    """Make sure a gateway answers at GANTRY_ADDRESS, starting ``gantry serve`` when none
    does and the binary is on PATH (or GANTRY_BINARY). Ray's options are accepted and
    ignored: the gateway's ports come from its own flags and config."""
    global _started
    if _reachable():
        return
    binary = os.environ.get("GANTRY_BINARY") or shutil.which("gantry")
    if not binary:
        raise RayServeException(
            f"no Gantry gateway answers at {_address()} and `gantry` is not on PATH: start one with "
            "`gantry serve` (or set GANTRY_ADDRESS to a running gateway, or GANTRY_BINARY to the binary)"
        )
    port = _address().rsplit(":", 1)[-1]
    _started = subprocess.Popen([binary, "serve", "--dashboard-port", port])
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if _started.poll() is not None:
            raise RayServeException(f"`{binary} serve` exited with code {_started.returncode}; see its output above")
        if _reachable():
            return
        time.sleep(0.2)
    raise RayServeException(f"`{binary} serve` did not answer at {_address()} within 30 s")


def _import_path_of(app: Application) -> tuple[str, str]:
    """(import_path, working_dir) under which the gateway can import app."""
    main = sys.modules.get("__main__")
    candidates = []
    if main is not None:
        candidates.append(main)
    owner = sys.modules.get(getattr(app.deployment.func_or_class, "__module__", ""), None)
    if owner is not None and owner is not main:
        candidates.append(owner)
    for module in candidates:
        attr = next((k for k, v in vars(module).items() if v is app and not k.startswith("_")), None)
        if attr is None:
            continue
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.name and spec.name != "__main__" and getattr(module, "__file__", None):
            # Imported (or run with `python -m`): the folder that makes spec.name importable.
            root = os.path.dirname(os.path.abspath(module.__file__))
            levels = spec.name.count(".") + (1 if os.path.basename(module.__file__) == "__init__.py" else 0)
            for _ in range(levels):
                root = os.path.dirname(root)
            return f"{spec.name}:{attr}", root
        path = getattr(module, "__file__", None)
        if not path:
            continue
        stem = os.path.splitext(os.path.basename(path))[0]
        return f"{stem}:{attr}", os.path.dirname(os.path.abspath(path))
    raise RayServeException(
        "serve.run needs the application in a module-level variable of the script (for example "
        "`app = Model.bind()` and then `serve.run(app)`), so the gateway can import it by path"
    )


def _applied_config() -> dict[str, Any]:
    """The gateway's whole applied config (Gantry's view keeps http_options, worker_groups and
    each application's python field, which Ray's view has no room for)."""
    config = (_request("GET", "/api/gantry/applications") or {}).get("config")
    return dict(config) if config else {"applications": []}


def _put_applications(config: dict[str, Any], apps: list[dict[str, Any]]) -> None:
    body = dict(config)
    body["applications"] = apps
    if apps:
        _request("PUT", "/api/serve/applications/", body, timeout=60)
    else:
        _request("DELETE", "/api/serve/applications/", timeout=60)


def _wait_running(name: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    last = ""
    while time.monotonic() < deadline:
        apps = (_request("GET", "/api/serve/applications/") or {}).get("applications") or {}
        detail = apps.get(name) or {}
        last = detail.get("status", "")
        if last == "RUNNING":
            return
        if last == "DEPLOY_FAILED":
            raise RayServeException(f"application {name!r} failed to deploy: {detail.get('message', '')}")
        time.sleep(0.2)
    raise RayServeException(f"application {name!r} is not RUNNING after {timeout_s} s (status {last or 'unknown'})")


def _configure_handles() -> None:
    if os.environ.get("GANTRY_HANDLE_ADDRESS"):
        return
    try:
        info = _request("GET", "/api/gantry/handle")
    except RayServeException:
        return  # handles then raise a clear HandleConfigError when used
    if info and info.get("address"):
        transport.configure(info["address"], info.get("token", ""))


def run(
    target: Application,
    *,
    name: str = "default",
    route_prefix: str | None = "/",
    blocking: bool = False,
    timeout_s: float = 300,
    **_ray_options: Any,
) -> DeploymentHandle:
    """Deploy target to the gateway as application name and return a handle to its ingress."""
    if not isinstance(target, Application):
        raise TypeError(f"serve.run expects a bound application (Deployment.bind(...)), got {type(target).__name__}")
    ingress = walk(target).ingress
    if context.role() != "client":
        return DeploymentHandle(ingress, name)
    import_path, working_dir = _import_path_of(target)
    start()
    app_cfg: dict[str, Any] = {
        "name": name,
        "import_path": import_path,
        "runtime_env": {"working_dir": working_dir},
        "python": os.path.abspath(sys.executable),
    }
    if route_prefix is not None:
        app_cfg["route_prefix"] = route_prefix
    config = _applied_config()
    others = [c for c in config.get("applications") or [] if c.get("name") != name]
    _put_applications(config, others + [app_cfg])
    _wait_running(name, timeout_s)
    _configure_handles()
    handle = DeploymentHandle(ingress, name)
    if blocking:
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return handle


def status() -> dict[str, Any]:
    """The gateway's applications as Ray's REST API reports them."""
    return _request("GET", "/api/serve/applications/") or {}


def delete(name: str, timeout_s: float = 60) -> None:
    """Remove one application, keeping the others; return once the gateway no longer has it."""
    config = _applied_config()
    _put_applications(config, [c for c in config.get("applications") or [] if c.get("name") != name])
    deadline = time.monotonic() + timeout_s
    while name in ((_request("GET", "/api/serve/applications/") or {}).get("applications") or {}):
        if time.monotonic() > deadline:
            raise RayServeException(f"application {name!r} is still there {timeout_s} s after deleting it")
        time.sleep(0.2)


def shutdown() -> None:
    """Remove every application; stop the gateway if serve.start started it."""
    global _started
    if _reachable():
        _request("DELETE", "/api/serve/applications/", timeout=60)
    if _started is not None:
        _started.terminate()
        try:
            _started.wait(30)
        except subprocess.TimeoutExpired:
            _started.kill()
            _started.wait()
        _started = None


def get_deployment_handle(deployment_name: str, app_name: str | None = None) -> DeploymentHandle:
    """A handle to a deployment; app_name defaults to the current replica's application."""
    if app_name is None:
        app_name = os.environ.get("GANTRY_APPLICATION") or "default"
    return DeploymentHandle(deployment_name, app_name)


def get_app_handle(name: str) -> DeploymentHandle:
    """A handle to an application's ingress deployment, found through the REST API."""
    apps = status().get("applications") or {}
    detail = apps.get(name)
    if detail is None:
        raise RayServeException(f"application {name!r} does not exist on the gateway at {_address()}")
    ingress = detail.get("ingress_deployment") or ""
    if not ingress:
        deployments = list((detail.get("deployments") or {}).keys())
        if len(deployments) != 1:
            raise RayServeException(f"application {name!r}: the gateway does not say which deployment is its ingress")
        ingress = deployments[0]
    return DeploymentHandle(ingress, name)

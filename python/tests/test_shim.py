"""The ray.serve shim: `from ray import serve` scripts run without Ray installed."""

from __future__ import annotations

import subprocess
import textwrap

from conftest import APPS, PYTHON


def run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([PYTHON, "-c", textwrap.dedent(code)], cwd=APPS, capture_output=True, text=True, timeout=60)


def test_ray_is_not_installed_here() -> None:
    result = run("import ray")
    assert result.returncode == 1 and "No module named 'ray'" in result.stderr


def test_ray_serve_resolves_to_gantry_serve() -> None:
    result = run(
        """
        from gantry_serve import shim
        assert shim.install()
        import gantry_serve
        from ray import serve
        import ray.serve as serve2
        from ray.serve.handle import DeploymentHandle, DeploymentResponse, DeploymentResponseGenerator
        from ray.serve.exceptions import RayServeException, BackPressureError
        import ray
        ray.init()
        assert serve is serve2
        assert serve.deployment is gantry_serve.deployment and serve.batch is gantry_serve.batch
        assert serve.multiplexed is gantry_serve.multiplexed and serve.ingress is gantry_serve.ingress
        assert DeploymentHandle is gantry_serve.DeploymentHandle
        print("ok")
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_uncovered_api_is_named() -> None:
    result = run(
        """
        from gantry_serve import shim
        shim.install()
        from ray import serve
        try:
            serve.get_deployment_statuses
        except AttributeError as exc:
            print(exc)
        try:
            import ray.data
        except ImportError as exc:
            print(exc)
        """
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("ray.serve.get_deployment_statuses is not supported by gantry-serve")
    assert lines[1].startswith("module ray.data is not supported by gantry-serve")


def test_ray_serve_script_builds_unchanged() -> None:
    # compose.py is written against `from ray import serve`, FastAPI ingress, handles, batch.
    from conftest import run_build

    result = run_build("compose:app")
    assert result.returncode == 0, result.stderr

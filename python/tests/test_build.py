"""`python -m gantry_serve.build` prints the graph the gateway deploys (PYPROTO.md 1)."""

from __future__ import annotations

import json

from conftest import run_build


def test_build_prints_graph_with_only_the_options_set_in_code() -> None:
    result = run_build("compose:app")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc == {
        "ingress": "Ingress",
        "deployments": [
            {
                "name": "Model",
                "options": {
                    "ray_actor_options": {"resources": {"TPU": 4}},
                    "max_ongoing_requests": 32,
                    "user_config": {"prefix": "v1"},
                },
            },
            {"name": "Ingress", "options": {"num_replicas": 1}},
        ],
    }


def test_build_accepts_dotted_import_path() -> None:
    result = run_build("compose.app")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ingress"] == "Ingress"


def test_build_keeps_module_prints_off_stdout() -> None:
    result = run_build("noisy:app")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ingress"] == "Hello"
    assert "importing noisy" in result.stderr


def test_build_names_missing_attribute() -> None:
    result = run_build("compose:nope")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "module 'compose' has no attribute 'nope'" in result.stderr


def test_build_names_failing_module_and_exception() -> None:
    result = run_build("broken:app")
    assert result.returncode == 1
    assert "importing module 'broken' failed" in result.stderr
    assert "ZeroDivisionError" in result.stderr


def test_build_refuses_unbound_deployment() -> None:
    result = run_build("noisy:Hello")
    assert result.returncode == 1
    assert "is a deployment, not an application" in result.stderr


def test_build_explains_an_application_of_installed_ray(tmp_path) -> None:
    # A two-line stand-in for an installed Ray (the real one is not in this venv): the shim
    # then stays out of the way and the app is Ray's own object.
    (tmp_path / "ray").mkdir()
    (tmp_path / "ray" / "__init__.py").write_text("class Application:\n    pass\n")
    (tmp_path / "rayapp.py").write_text("import ray\napp = ray.Application()\n")
    result = run_build("rayapp:app", cwd=tmp_path)
    assert result.returncode == 1
    assert "'app' is Ray's own Application: Ray is installed in this Python" in result.stderr

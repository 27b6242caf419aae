"""The replica runner as the gateway drives it (PYPROTO.md 2): real `python -m
gantry_serve.replica` processes on real sockets, driven over HTTP."""

from __future__ import annotations

import json
import os
import threading
import urllib.request
from typing import Iterator

import pytest

from conftest import PYTHON, Processes, free_port, http_get, wait_for


def start_replica(processes: Processes, import_path: str, deployment: str, wait: bool = True, **env: str) -> str:
    port = free_port()
    full_env = dict(os.environ, PORT=str(port), GANTRY_APPLICATION="demo", GANTRY_REPLICA_ID=f"{deployment}-r1", **env)
    processes.start([PYTHON, "-m", "gantry_serve.replica", import_path, deployment], full_env)
    base = f"http://127.0.0.1:{port}"
    if wait:
        wait_for(lambda: http_get(base + "/-/healthz")[0] == 200, what=f"{deployment} healthy")
    return base


@pytest.fixture(scope="module")
def models() -> Iterator[str]:
    procs = Processes()
    try:
        yield start_replica(procs, "plain:app", "Models")
    finally:
        procs.stop()


def post(url: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, data=body, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_call_gets_starlette_request_with_forwarded_prefix(models: str) -> None:
    status, headers, body = http_get(models + "/items/1", {"X-Forwarded-Prefix": "/api"})
    assert status == 200
    doc = json.loads(body)
    assert doc["path"] == "/api/items/1"
    assert doc["root_path"] == "/api"
    assert (doc["app"], doc["deployment"], doc["replica"]) == ("demo", "Models", "Models-r1")
    assert doc["tag_at_init"] == "Models-r1"  # the context is readable in __init__ too


def test_multiplexed_lru_and_header(models: str) -> None:
    def get(model: str) -> tuple[dict, str]:
        status, headers, body = http_get(models + "/", {"serve_multiplexed_model_id": model})
        assert status == 200
        return json.loads(body), headers["gantry-multiplexed-models"]

    first, _ = get("a")
    loads_before = len(first["loads"]) - 1
    doc, header = get("a")  # a hit: no new load
    assert len(doc["loads"]) - loads_before == 1
    get("b")
    doc, header = get("c")  # limit 2: "a" is the least recently used and goes
    assert doc["loads"][loads_before:] == ["a", "b", "c"]
    assert doc["evicted"][-1] == "a"
    assert header.split(",") == ["b", "c"]
    status, headers, _ = http_get(models + "/-/healthz")
    assert headers["gantry-multiplexed-models"] == "b,c"


def test_function_deployment_with_module_level_loader(processes: Processes) -> None:
    base = start_replica(processes, "adapters:app", "Adapters")
    status, headers, _ = http_get(base + "/-/healthz")
    assert headers["gantry-multiplexed-models"] == ""
    for model in ("x", "y"):
        status, headers, body = http_get(base + "/", {"serve_multiplexed_model_id": model})
        assert (status, body) == (200, f"adapter-{model}".encode())
        assert headers["gantry-multiplexed-models"] == model  # limit 1: the other was evicted


def test_reconfigure_and_check_health(models: str) -> None:
    assert post(models + "/-/reconfigure", json.dumps({"healthy": False}).encode())[0] == 200
    status, _, body = http_get(models + "/-/healthz")
    assert status == 503
    assert b"unhealthy on purpose" in body
    status, body = post(models + "/-/reconfigure", json.dumps({"fail": True}).encode())
    assert status == 500
    assert b"ValueError: fail was set in user_config" in body
    assert post(models + "/-/reconfigure", json.dumps({"healthy": True}).encode())[0] == 200
    assert http_get(models + "/-/healthz")[0] == 200


def test_initial_user_config_applied_before_healthy(processes: Processes) -> None:
    base = start_replica(processes, "plain:app", "Models", wait=False, GANTRY_USER_CONFIG='{"healthy": false}')
    # Never a 200: the user_config makes check_health fail from the first answer on.
    wait_for(lambda: b"check_health failed" in http_get(base + "/-/healthz")[2], what="constructed replica")
    status, _, body = http_get(base + "/-/healthz")
    assert status == 503
    assert body == b"check_health failed: RuntimeError: unhealthy on purpose"
    assert post(base + "/-/reconfigure", b'{"healthy": true}')[0] == 200
    assert http_get(base + "/-/healthz")[0] == 200


def test_streaming_function(processes: Processes) -> None:
    base = start_replica(processes, "plain:stream_app", "Streamer")
    status, headers, body = http_get(base + "/?n=4")
    assert status == 200
    assert body == b"chunk-0;chunk-1;chunk-2;chunk-3;"
    assert "gantry-multiplexed-models" not in headers


def test_sigterm_drains_in_flight_request(processes: Processes) -> None:
    base = start_replica(processes, "plain:app", "Models")
    proc = processes.procs[-1]
    result: dict = {}
    worker = threading.Thread(target=lambda: result.update(answer=http_get(base + "/slow", timeout=30)))
    worker.start()
    wait_for(lambda: json.loads(http_get(base + "/inflight")[2])["inflight"] == 1, what="the slow request in flight")
    proc.terminate()
    worker.join(30)
    assert result["answer"][0] == 200
    assert result["answer"][2] == b"slow done"
    assert proc.wait(15) == 0


def test_missing_deployment_fails_clearly(processes: Processes, tmp_path) -> None:
    log = tmp_path / "out.log"
    proc = processes.start(
        [PYTHON, "-m", "gantry_serve.replica", "plain:app", "Nope"], dict(os.environ, PORT=str(free_port())), log=log
    )
    assert proc.wait(30) == 1
    assert "deployment 'Nope' is not in the application graph; it has: Models" in log.read_text()


def test_constructor_failure_exits_1(processes: Processes, tmp_path) -> None:
    log = tmp_path / "out.log"
    proc = processes.start(
        [PYTHON, "-m", "gantry_serve.replica", "failing:app", "Failing"], dict(os.environ, PORT=str(free_port())), log=log
    )
    assert proc.wait(30) == 1
    text = log.read_text()
    assert "deployment 'Failing' failed to start: RuntimeError: no weights here" in text


def test_missing_port_is_named(processes: Processes, tmp_path) -> None:
    log = tmp_path / "out.log"
    env = {k: v for k, v in os.environ.items() if k != "PORT"}
    proc = processes.start([PYTHON, "-m", "gantry_serve.replica", "plain:app", "Models"], env, log=log)
    assert proc.wait(30) == 1
    assert "PORT: must be the port to listen on (1-65535), got ''" in log.read_text()


def test_sigterm_while_constructor_runs_exits(processes: Processes, tmp_path) -> None:
    log = tmp_path / "out.log"
    port = free_port()
    proc = processes.start(
        [PYTHON, "-m", "gantry_serve.replica", "slowinit:app", "Loading"], dict(os.environ, PORT=str(port)), log=log
    )
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: "constructor started" in log.read_text(), what="the constructor to start")
    status, _, body = http_get(base + "/-/healthz")
    assert (status, body) == (503, b"starting: the deployment's constructor is running")
    proc.terminate()
    assert proc.wait(20) == 0

"""Handles end to end: two real replica processes of a two-deployment app and a stand-in
for the gateway's handle endpoint (tests/standin_gateway.py stands in for the Go gateway,
whose real endpoint helper pygo's Go tests exercise). Calls go ingress -> stand-in ->
replica, the same path they take through Gantry."""

from __future__ import annotations

import asyncio
import json
import os
from typing import Iterator

import pytest

from conftest import APPS, PYTHON, Processes, free_port, http_get, wait_for
from gantry_serve import transport
from gantry_serve.exceptions import DeploymentUnavailableError, HandleAuthError
from gantry_serve.handle import DeploymentHandle

TOKEN = "test-token-123"


@pytest.fixture(scope="module")
def gateway() -> Iterator[dict[str, str]]:
    procs = Processes()
    ports = {"gw": free_port(), "Model": free_port(), "Ingress": free_port()}
    env = dict(
        os.environ,
        GANTRY_APPLICATION="demo",
        GANTRY_HANDLE_ADDRESS=f"http://127.0.0.1:{ports['gw']}",
        GANTRY_HANDLE_TOKEN=TOKEN,
    )
    try:
        for dep in ("Model", "Ingress"):
            procs.start([PYTHON, "-m", "gantry_serve.replica", "compose:app", dep], dict(env, PORT=str(ports[dep])))
        procs.start(
            [PYTHON, str(APPS.parent / "standin_gateway.py"), str(ports["gw"]), TOKEN, "demo",
             f"Model={ports['Model']}", f"Ingress={ports['Ingress']}"],
            env,
        )
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        for dep in ("Model", "Ingress"):
            wait_for(lambda dep=dep: http_get(urls[dep] + "/-/healthz")[0] == 200, what=f"{dep} healthy")
        transport.configure(urls["gw"], TOKEN)
        yield urls
    finally:
        transport.configure("", "")
        procs.stop()


def ingress(gateway: dict[str, str], path: str) -> dict:
    status, _, body = http_get(gateway["Ingress"] + path)
    assert status == 200, body
    return json.loads(body)


def test_ingress_calls_child_through_handle(gateway: dict[str, str]) -> None:
    assert ingress(gateway, "/double?x=4") == {"result": 12}


def test_sync_route_blocks_on_result(gateway: dict[str, str]) -> None:
    # "v1" is the code's user_config, applied through reconfigure before the first 200.
    assert ingress(gateway, "/tag?text=hi") == {"tag": "v1:hi"}


def test_response_passed_as_argument_is_resolved_first(gateway: dict[str, str]) -> None:
    assert ingress(gateway, "/chain?x=2") == {"tag": "v1:6"}


def test_user_exception_keeps_its_type(gateway: dict[str, str]) -> None:
    assert ingress(gateway, "/fail") == {"error": "KeyError", "message": "'boom'"}
    handle = DeploymentHandle("Model", "demo")
    with pytest.raises(KeyError, match="direct"):
        handle.fail.remote("direct").result(timeout_s=10)


def test_streaming_async_and_sync_iteration(gateway: dict[str, str]) -> None:
    assert ingress(gateway, "/stream?n=4") == {"items": [0, 1, 2, 3]}
    handle = DeploymentHandle("Model", "demo").options(stream=True)
    assert list(handle.count_sync.remote(3)) == ["item-0", "item-1", "item-2"]

    async def consume() -> list[int]:
        return [i async for i in handle.count.remote(5)]

    assert asyncio.run(consume()) == [0, 1, 2, 3, 4]


def test_streaming_response_from_a_handle_stream(gateway: dict[str, str]) -> None:
    status, headers, body = http_get(gateway["Ingress"] + "/stream_text?n=3")
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    assert body == b"item-0\nitem-1\nitem-2\n"


def test_stream_error_after_items(gateway: dict[str, str]) -> None:
    gen = DeploymentHandle("Model", "demo").options(stream=True).count_then_fail.remote(2)
    seen = []
    with pytest.raises(ValueError, match="stream broke"):
        for item in gen:
            seen.append(item)
    assert seen == [0, 1]


def test_stream_option_must_match_method(gateway: dict[str, str]) -> None:
    handle = DeploymentHandle("Model", "demo")
    with pytest.raises(TypeError, match="returned a generator"):
        handle.count.remote(2).result(timeout_s=10)
    with pytest.raises(TypeError, match="not a generator"):
        list(handle.options(stream=True).tag.remote("x"))


def test_unknown_method_is_named(gateway: dict[str, str]) -> None:
    with pytest.raises(AttributeError, match="deployment 'Model' has no method 'nope'; its methods: .*batch_sizes"):
        DeploymentHandle("Model", "demo").nope.remote().result(timeout_s=10)


def test_bad_token_is_a_clear_error(gateway: dict[str, str]) -> None:
    transport.configure(gateway["gw"], "wrong")
    try:
        with pytest.raises(HandleAuthError, match="HTTP 401.*GANTRY_HANDLE_TOKEN") as info:
            DeploymentHandle("Model", "demo").remote(1).result(timeout_s=10)
        assert info.value.status == 401
        assert info.value.deployment == "Model"
    finally:
        transport.configure(gateway["gw"], TOKEN)


def test_unknown_deployment_is_a_clear_error(gateway: dict[str, str]) -> None:
    with pytest.raises(DeploymentUnavailableError, match="deployment 'Ghost' of application 'demo' failed: HTTP 404"):
        DeploymentHandle("Ghost", "demo").remote(1).result(timeout_s=10)


def test_multiplexed_model_id_option_reaches_replica(gateway: dict[str, str]) -> None:
    handle = DeploymentHandle("Model", "demo")
    assert handle.options(multiplexed_model_id="lora-7").which_model.remote().result(timeout_s=10) == "lora-7"
    assert handle.which_model.remote().result(timeout_s=10) == ""


def test_concurrent_handle_calls_are_batched(gateway: dict[str, str]) -> None:
    handle = DeploymentHandle("Model", "demo")
    before = handle.batch_sizes.remote().result(timeout_s=10)

    async def burst() -> list[int]:
        return await asyncio.gather(*[handle.remote(x) for x in range(16)])

    assert asyncio.run(burst()) == [x * 3 for x in range(16)]
    sizes = handle.batch_sizes.remote().result(timeout_s=10)[len(before):]
    assert sum(sizes) == 16
    assert max(sizes) > 1, sizes
    assert max(sizes) <= 8, sizes

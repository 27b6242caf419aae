"""The application's two deployments run by the SDK's replica runner
(python -m gantry_serve.replica), called over its real HTTP protocol.

StableDiffusion is called as the gateway's handle endpoint calls it (POST
/-/gantry/call with a pickled (args, kwargs)), so @serve.batch, reconfigure
and the pmap path run exactly as under Gantry. APIIngress is started with no
gateway behind its handle: only the answers that never reach the handle (bad
fields, the API description) are checked here; test_gateway.py runs both
deployments behind the real gateway.
"""

import concurrent.futures
import io
import json
import os
import pickle
import sys
import urllib.error
import urllib.request

import pytest
from PIL import Image

from conftest import EXAMPLE, free_port, wait_for
from imagine_params import ImageRequest

IMPORT_PATH = "stable_diffusion_tpu:deployment"


def replica_env(port, deployment, user_config=None):
    env = dict(os.environ)
    env.update(
        PORT=str(port),
        PYTHONPATH=EXAMPLE,
        GANTRY_APPLICATION="stable_diffusion",
        GANTRY_DEPLOYMENT=deployment,
        GANTRY_REPLICA_ID=f"{deployment}-test",
    )
    if user_config is not None:
        env["GANTRY_USER_CONFIG"] = json.dumps(user_config)
    return env


def healthy(port):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/-/healthz", timeout=5) as resp:
        return resp.status == 200


def start_replica(processes, deployment):
    port = free_port()
    _, log = processes.start(
        deployment,
        [sys.executable, "-m", "gantry_serve.replica", IMPORT_PATH, deployment],
        replica_env(port, deployment),
    )
    wait_for(lambda: healthy(port), 120, f"{deployment} to answer /-/healthz with 200", log)
    return port


@pytest.fixture(scope="module")
def sd_port(processes):
    return start_replica(processes, "StableDiffusion")


@pytest.fixture(scope="module")
def ingress_port(processes):
    return start_replica(processes, "APIIngress")


def call(port, method, *args):
    """One handle call, as the gateway forwards it; returns the value or raises."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/-/gantry/call",
        data=pickle.dumps((args, {})),
        headers={"Gantry-Method": method, "Content-Type": "application/x-gantry-pickle"},
    )
    with urllib.request.urlopen(req, timeout=120) as resp:
        assert resp.status == 200
        kind, value = pickle.loads(resp.read())
    if kind == "err":
        raise value
    return value


def concurrently(n, fn):
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(fn, range(n)))


def png_size(png):
    img = Image.open(io.BytesIO(png))
    assert img.format == "PNG"
    return img.size


def test_eight_concurrent_prompts_get_eight_pngs(sd_port):
    results = concurrently(
        8, lambda i: call(sd_port, "generate", ImageRequest(f"a cat number {i}", 1000 + i))
    )
    assert [png_size(r["png"]) for r in results] == [(64, 64)] * 8
    assert [r["seed"] for r in results] == [1000 + i for i in range(8)]
    assert len({r["png"] for r in results}) == 8
    assert all(r["replica"] == "StableDiffusion-test" for r in results)
    # Every image came out of a pmap call the replica counted.
    sizes = call(sd_port, "batch_sizes")
    assert sum(sizes) == 8
    assert all(r["batch_size"] in sizes for r in results)


def test_sixteen_concurrent_prompts_are_batched(sd_port):
    # The runtime setters of @serve.batch, through reconfigure: batches of 8
    # that wait (up to 60 s) until full, so 16 prompts make exactly two.
    req = urllib.request.Request(
        f"http://127.0.0.1:{sd_port}/-/reconfigure",
        data=json.dumps({"max_batch_size": 8, "batch_wait_timeout_s": 60}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert resp.status == 200
    assert call(sd_port, "batching") == {"max_batch_size": 8, "batch_wait_timeout_s": 60.0}
    before = len(call(sd_port, "batch_sizes"))
    results = concurrently(16, lambda i: call(sd_port, "generate", ImageRequest(f"a dog {i}", 1 + i)))
    assert [png_size(r["png"]) for r in results] == [(64, 64)] * 16
    assert [r["batch_size"] for r in results] == [8] * 16
    assert call(sd_port, "batch_sizes")[before:] == [8, 8]


@pytest.mark.parametrize(
    "config,says",
    [
        ({"max_batch": 8}, "unknown field(s) max_batch; allowed: max_batch_size, batch_wait_timeout_s"),
        ({"max_batch_size": 0}, "user_config.max_batch_size: must be a positive integer, got 0"),
        ({"batch_wait_timeout_s": "soon"}, "user_config.batch_wait_timeout_s: must be a number >= 0"),
        # A good field beside a bad one is not applied either.
        ({"max_batch_size": 2, "batch_wait_timeout_s": -1}, "user_config.batch_wait_timeout_s"),
    ],
)
def test_bad_user_config_is_refused_by_name(sd_port, config, says):
    before = call(sd_port, "batching")
    req = urllib.request.Request(
        f"http://127.0.0.1:{sd_port}/-/reconfigure",
        data=json.dumps(config).encode(),
        headers={"Content-Type": "application/json"},
    )
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 500
    assert says in info.value.read().decode()
    assert call(sd_port, "batching") == before


def get(port, path, data=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


@pytest.mark.parametrize(
    "path,body,field",
    [
        ("/imagine", None, "prompt"),
        ("/imagine?prompt=x&steps=500", None, "steps"),
        ("/imagine?prompt=x&width=100", None, "width"),
        ("/imagine?prompt=x&strength=3", None, "strength"),
        ("/imagine", b'{"prompt": "x", "height": 12}', "height"),
        ("/imagine", b'{"prompt": "x", "seed": "soon"}', "seed"),
        ("/imagine", b"[1, 2]", "body"),
        ("/imagine", b"{not json", "body"),
    ],
)
def test_ingress_names_the_bad_field(ingress_port, path, body, field):
    status, answer = get(ingress_port, path, body)
    assert status == 400
    assert answer["field"] == field
    assert answer["error"].startswith(field + ": ")


def test_ingress_describes_its_api(ingress_port):
    status, answer = get(ingress_port, "/")
    assert status == 200
    assert "POST /imagine" in answer["endpoints"]
    assert set(answer["fields"]) >= {"prompt", "seed", "steps", "img_size"}

"""serve-flax.yaml, unchanged, on the real gateway: `gantry serve` starts both
deployments with the SDK's runner (APIIngress calls StableDiffusion through
the gateway's handle endpoint), and clients get PNGs from the Flax pipeline.

The gantry binary is $GANTRY_BIN (make test-flax builds bin/gantry), else it
is built here with `go build`. Ray's own `serve` CLI is $RAY_SERVE_CLI, else
.venv-ci/bin/serve (make raycli-venv).
"""

import concurrent.futures
import io
import json
import os
import subprocess
import urllib.error
import urllib.parse
import urllib.request

import pytest
from PIL import Image

from conftest import EXAMPLE, free_port, wait_for

REPO = os.path.abspath(os.path.join(EXAMPLE, "..", "..", ".."))
CONFIG = os.path.join(EXAMPLE, "serve-flax.yaml")


@pytest.fixture(scope="module")
def gantry_bin(tmp_path_factory):
    path = os.environ.get("GANTRY_BIN")
    if path:
        return path
    path = str(tmp_path_factory.mktemp("bin") / "gantry")
    subprocess.run(["go", "build", "-o", path, "./cmd/gantry"], cwd=REPO, check=True)
    return path


def fetch(url, data=None, headers=None, timeout=120):
    req = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.headers, resp.read()
    except urllib.error.HTTPError as err:
        return err.code, err.headers, err.read()


@pytest.fixture(scope="module")
def gateway(gantry_bin, processes, tmp_path_factory):
    http, grpc, admin = free_port(), free_port(), free_port()
    state = str(tmp_path_factory.mktemp("state"))
    env = dict(os.environ)
    _, log = processes.start(
        "gantry",
        [
            gantry_bin, "serve", CONFIG,
            "--http-port", str(http), "--grpc-port", str(grpc),
            "--dashboard-port", str(admin), "--state-dir", state,
        ],
        env,
        cwd=REPO,
    )
    api = f"http://127.0.0.1:{admin}/api/serve/applications/"

    def running():
        status, _, body = fetch(api, timeout=5)
        app = json.loads(body)["applications"].get("stable_diffusion", {})
        return status == 200 and app.get("status") == "RUNNING"

    wait_for(running, 180, "application stable_diffusion to be RUNNING", log)
    return {
        "url": f"http://127.0.0.1:{http}",
        "admin": f"http://127.0.0.1:{admin}",
        "api": api,
        "log": log,
    }


def png(body):
    img = Image.open(io.BytesIO(body))
    assert img.format == "PNG"
    return img.size


def imagine(gateway, prompt, **params):
    query = urllib.parse.urlencode({"prompt": prompt, **params})
    return fetch(f"{gateway['url']}/imagine?{query}")


def test_both_deployments_are_healthy(gateway):
    _, _, body = fetch(gateway["api"])
    app = json.loads(body)["applications"]["stable_diffusion"]
    assert {name: d["status"] for name, d in app["deployments"].items()} == {
        "APIIngress": "HEALTHY",
        "StableDiffusion": "HEALTHY",
    }
    assert app["deployed_app_config"]["import_path"] == "stable_diffusion_tpu:deployment"


def test_rays_serve_status_shows_both_deployments_healthy(gateway):
    cli = os.environ.get("RAY_SERVE_CLI") or os.path.join(REPO, ".venv-ci", "bin", "serve")
    assert os.path.exists(cli), f"Ray's serve CLI not found at {cli}: run make raycli-venv or set RAY_SERVE_CLI"
    out = subprocess.run(
        [cli, "status", "-a", gateway["admin"]],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    app = out[out.index("stable_diffusion:"):]
    assert "status: RUNNING" in app
    for name in ("APIIngress", "StableDiffusion"):
        section = app[app.index(f"{name}:"):]
        assert section.split("\n", 2)[1].strip() == "status: HEALTHY", out


def test_get_imagine_returns_a_png(gateway):
    status, headers, body = imagine(gateway, "a cat")
    assert status == 200, body[:300]
    assert headers["Content-Type"] == "image/png"
    assert png(body) == (64, 64)
    assert headers["X-Painter-Replica"]


def test_post_imagine_takes_json(gateway):
    status, headers, body = fetch(
        f"{gateway['url']}/imagine",
        data=json.dumps({"prompt": "a lighthouse at sunset", "seed": 7}).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert status == 200, body[:300]
    assert png(body) == (64, 64)
    # The model's default step count fills in for the absent field.
    assert (headers["X-Image-Seed"], headers["X-Image-Steps"]) == ("7", "50")
    # The same request again paints the same picture.
    assert fetch(
        f"{gateway['url']}/imagine",
        data=json.dumps({"prompt": "a lighthouse at sunset", "seed": 7}).encode(),
        headers={"Content-Type": "application/json"},
    )[2] == body


def test_a_bad_field_is_a_400_naming_it(gateway):
    status, _, body = imagine(gateway, "a cat", steps=500)
    assert status == 400
    assert json.loads(body)["field"] == "steps"


def concurrent_prompts(gateway, n):
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda i: imagine(gateway, f"prompt number {i}"), range(n)))


def test_eight_concurrent_prompts_get_eight_pngs(gateway):
    # As the tutorial's client does: 8 GETs at once.
    answers = concurrent_prompts(gateway, 8)
    assert [status for status, _, _ in answers] == [200] * 8
    assert [png(body) for _, _, body in answers] == [(64, 64)] * 8


def test_sixteen_concurrent_prompts_are_batched(gateway):
    before = json.loads(fetch(f"{gateway['url']}/batches")[2])["batch_sizes"]
    answers = concurrent_prompts(gateway, 16)
    assert [status for status, _, _ in answers] == [200] * 16
    sizes = [int(headers["X-Batch-Size"]) for _, headers, _ in answers]
    # The replica's own count: the pmap calls these 16 prompts made.
    after = json.loads(fetch(f"{gateway['url']}/batches")[2])["batch_sizes"]
    new = after[len(before):]
    assert sum(new) == 16
    assert max(new) > 1, f"every prompt ran alone: {new}"
    assert set(sizes) <= set(new)

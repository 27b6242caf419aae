"""Triton's own Python client (pip tritonclient, see requirements.txt)
against a real `gantry serve`: the Open Inference Protocol on the gRPC port
and under /v2 on the HTTP port must work for it unchanged, and gRPC
reflection must list the gateway's services (which Triton lacks).

Run with `make test-oip` (which makes the venv with `make oip-venv`). The
tests build gantry and the gRPC test replica with `go build`, run the
gateway on free loopback ports, and stop everything they started.
"""

import json
import os
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import grpc
import numpy as np
import pytest
import tritonclient.grpc as grpcclient
import tritonclient.http as httpclient
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import ProtoReflectionDescriptorDatabase
from tritonclient.utils import InferenceServerException

REPO = Path(__file__).resolve().parents[2]
PROMPT = "a red fox in the snow"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, cond, within=60.0):
    deadline = time.monotonic() + within
    while True:
        try:
            if cond():
                return
        except Exception as e:  # not up yet
            last = e
        else:
            last = None
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}; last error: {last}")
        time.sleep(0.1)


@pytest.fixture(scope="session")
def binaries(tmp_path_factory):
    out = tmp_path_factory.mktemp("bin")
    for pkg, name in (("./cmd/gantry", "gantry"), ("./internal/testgrpcreplica", "testgrpcreplica")):
        subprocess.run(["go", "build", "-o", str(out / name), pkg], cwd=REPO, check=True)
    return out


@pytest.fixture(scope="session")
def gateway(binaries, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("gateway")
    http_port, grpc_port, dashboard_port = free_port(), free_port(), free_port()
    config = tmp / "serve.json"
    config.write_text(json.dumps({"applications": [
        {"name": "echo", "route_prefix": None, "deployments": [
            {"name": "echo", "replica": {"command": [str(binaries / "testgrpcreplica")], "protocol": "grpc"}}]},
        {"name": "stable_diffusion", "route_prefix": "/", "deployments": [
            {"name": "painter", "replica": {"command": [str(binaries / "gantry"), "example", "painter"]}}]},
    ]}))
    proc = subprocess.Popen(
        [str(binaries / "gantry"), "serve", str(config), "--http-port", str(http_port),
         "--grpc-port", str(grpc_port), "--dashboard-port", str(dashboard_port),
         "--state-dir", str(tmp / "state")],
        stdout=subprocess.DEVNULL, stderr=open(tmp / "gantry.log", "wb"))
    g = {"http": f"127.0.0.1:{http_port}", "grpc": f"127.0.0.1:{grpc_port}"}
    try:
        client = grpcclient.InferenceServerClient(g["grpc"])
        wait_for("both models to be ready",
                 lambda: client.is_model_ready("echo") and client.is_model_ready("stable_diffusion"))
        yield g
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(timeout=60) == 0, "gantry did not exit cleanly on SIGTERM"
        finally:
            if proc.poll() is None:
                proc.kill()


def test_reflection_lists_the_gateways_services(gateway):
    with grpc.insecure_channel(gateway["grpc"]) as channel:
        services = ProtoReflectionDescriptorDatabase(channel).get_services()
    for want in ("inference.GRPCInferenceService", "grpc.health.v1.Health"):
        assert want in services, services


@pytest.fixture(params=["grpc", "http"])
def client(request, gateway):
    if request.param == "grpc":
        return grpcclient, grpcclient.InferenceServerClient(gateway["grpc"])
    return httpclient, httpclient.InferenceServerClient(gateway["http"])


def test_health_and_readiness(client):
    mod, c = client
    assert c.is_server_live()
    assert c.is_server_ready()
    assert c.is_model_ready("echo")
    assert c.is_model_ready("stable_diffusion")
    if mod is grpcclient:  # an unknown model is NOT_FOUND, not "not ready"
        with pytest.raises(InferenceServerException, match="NOT_FOUND"):
            c.is_model_ready("no_such_model")
    else:  # 404: the HTTP client reports it as not ready
        assert not c.is_model_ready("no_such_model")


def test_model_metadata_comes_from_the_replica(client):
    mod, c = client
    md = c.get_model_metadata("stable_diffusion")
    if mod is grpcclient:
        inputs, outputs = [(t.name, t.datatype) for t in md.inputs], [t.name for t in md.outputs]
    else:
        inputs, outputs = [(t["name"], t["datatype"]) for t in md["inputs"]], [t["name"] for t in md["outputs"]]
    assert inputs == [("prompt", "BYTES"), ("seed", "INT64"), ("steps", "INT64")]
    assert outputs == ["image"]


def test_infer_echo(client):
    mod, c = client
    x = np.arange(6, dtype=np.int32).reshape(2, 3)
    s = np.array([b"hello", b"world"], dtype=np.object_)
    inputs = [mod.InferInput("x", list(x.shape), "INT32"), mod.InferInput("s", list(s.shape), "BYTES")]
    inputs[0].set_data_from_numpy(x)
    inputs[1].set_data_from_numpy(s)
    result = c.infer("echo", inputs, request_id="req-1")
    np.testing.assert_array_equal(result.as_numpy("x"), x)
    assert list(result.as_numpy("s")) == [b"hello", b"world"]


def test_infer_json_tensors_over_http(gateway):
    c = httpclient.InferenceServerClient(gateway["http"])
    x = np.array([1.5, -2.25], dtype=np.float32)
    inp = httpclient.InferInput("x", [2], "FP32")
    inp.set_data_from_numpy(x, binary_data=False)
    out = httpclient.InferRequestedOutput("x", binary_data=False)
    np.testing.assert_array_equal(c.infer("echo", [inp], outputs=[out]).as_numpy("x"), x)


def test_unknown_model_is_not_found(client):
    mod, c = client
    inp = mod.InferInput("x", [1], "INT32")
    inp.set_data_from_numpy(np.array([1], dtype=np.int32))
    with pytest.raises(InferenceServerException) as e:
        c.infer("no_such_model", [inp])
    assert "NOT_FOUND" in str(e.value.status()) or e.value.status() == "404", e.value
    assert "does not exist" in e.value.message()


def test_painter_png_matches_imagine(client, gateway):
    mod, c = client
    req = urllib.request.Request(f"http://{gateway['http']}/imagine", method="POST",
                                 data=json.dumps({"prompt": PROMPT, "seed": 11, "steps": 3}).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as resp:
        want = resp.read()
    assert want.startswith(b"\x89PNG")
    inputs = [mod.InferInput("prompt", [1], "BYTES"), mod.InferInput("seed", [1], "INT64"),
              mod.InferInput("steps", [1], "INT64")]
    inputs[0].set_data_from_numpy(np.array([PROMPT.encode()], dtype=np.object_))
    inputs[1].set_data_from_numpy(np.array([11], dtype=np.int64))
    inputs[2].set_data_from_numpy(np.array([3], dtype=np.int64))
    result = c.infer("stable_diffusion", inputs, outputs=[mod.InferRequestedOutput("image")])
    image = result.as_numpy("image")
    assert image.shape == (1,)
    assert image[0] == want

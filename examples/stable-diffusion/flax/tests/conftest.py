"""Shared setup for the example's tests.

The example's folder is put first on sys.path, as the runner does with
runtime_env.working_dir. JAX sees 4 CPU devices (XLA_FLAGS, set before any
test imports jax), so the replicate/shard/pmap path is the TPU one. The tiny
pipeline and JAX's compilation cache live in GANTRY_SD_CACHE when it is set
(CI caches it), else in a folder of this test session.
"""

import os
import sys

import pytest

EXAMPLE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, EXAMPLE)

if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    ).strip()
# The tests build the tiny pipeline; a real model named in the environment
# would be downloaded instead.
os.environ.pop("GANTRY_SD_MODEL", None)


@pytest.fixture(scope="session", autouse=True)
def sd_cache(tmp_path_factory):
    """The cache folder of the tiny pipeline and the JAX compilation cache."""
    if not os.environ.get("GANTRY_SD_CACHE"):
        os.environ["GANTRY_SD_CACHE"] = str(tmp_path_factory.mktemp("gantry-sd"))
    return os.environ["GANTRY_SD_CACHE"]


@pytest.fixture(scope="session")
def generator(sd_cache):
    """One loaded tiny pipeline for the session (loading takes a few seconds)."""
    import sdmodel

    pipeline, params = sdmodel.load()
    return sdmodel.Generator(pipeline, params)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(check, timeout: float, what: str, log=None) -> None:
    """Polls check() until it is true; fails after timeout seconds, showing log's tail."""
    import time

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.1)
    tail = ""
    if log is not None and os.path.exists(log):
        with open(log, errors="replace") as f:
            tail = "\n--- log tail ---\n" + "".join(f.readlines()[-40:])
    raise AssertionError(f"timed out after {timeout} s waiting for {what} (last error: {last}){tail}")


class Processes:
    """Child processes a test starts; stopped with SIGTERM (then SIGKILL) at its end."""

    def __init__(self, logdir):
        self.logdir = logdir
        self.procs = []

    def start(self, name, args, env, cwd=EXAMPLE):
        import subprocess

        log = os.path.join(self.logdir, f"{name}.log")
        with open(log, "wb") as out:
            proc = subprocess.Popen(args, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc, log

    def stop(self):
        import subprocess

        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def processes(tmp_path_factory):
    procs = Processes(str(tmp_path_factory.mktemp("logs")))
    yield procs
    procs.stop()

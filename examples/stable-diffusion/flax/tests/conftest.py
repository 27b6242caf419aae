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

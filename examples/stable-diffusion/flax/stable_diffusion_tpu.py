"""Stable Diffusion with Flax on TPU, as a Ray Serve application.

The GKE tutorial's two deployments (kubernetes-engine-samples,
ai-ml/gke-ray/rayserve/stable-diffusion/stable_diffusion_tpu.py), written
against Ray Serve's API, so it runs on Ray and, unchanged, on Gantry with the
gantry-serve SDK (where `from ray import serve` resolves to gantry_serve):

- APIIngress, a FastAPI ingress: GET /imagine?prompt=... and POST /imagine
  with JSON {prompt, seed?, steps?, width?, height?} answer image/png (the Go
  painter's API), GET /batches reports the batch sizes the model saw, GET /
  describes the API. It holds a DeploymentHandle to StableDiffusion.
- StableDiffusion, asking for 4 TPU chips: FlaxStableDiffusionPipeline with
  jax.pmap over every device. @serve.batch gathers concurrent prompts into one
  pmap call (padded to a multiple of the device count).

The model is CompVis/stable-diffusion-v1-4 (bf16) from the Hugging Face hub
when GANTRY_SD_MODEL names it; without it, a tiny random-weight pipeline built
in code (see tinysd.py and README.md). On a host without TPUs, JAX runs on the
CPU split into GANTRY_SD_CPU_DEVICES devices (default 4, like a v4 2x2x1
slice), so the pmap path is the TPU one.
"""

from __future__ import annotations

import asyncio
import os
from typing import List

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from ray import serve
from ray.serve.handle import DeploymentHandle

import imagine_params
from imagine_params import ImageRequest, ParamError

# The CPU device count is fixed when JAX starts, so it is set before anything
# imports jax. On a TPU host it changes nothing: JAX uses the TPU devices.
if "xla_force_host_platform_device_count" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "")
        + " --xla_force_host_platform_device_count="
        + os.environ.get("GANTRY_SD_CPU_DEVICES", "4")
    ).strip()

# As in the tutorial: at most 64 prompts per pmap call.
MAX_BATCH_SIZE = 64
# How long the first prompt of a batch waits for more. The tutorial waits 10 s
# (for throughput on a busy TPU); a short wait keeps a lone prompt fast, and
# prompts that arrive while a batch runs still form the next batch.
BATCH_WAIT_TIMEOUT_S = 0.1

app = FastAPI(title="Stable Diffusion (Flax)")


def _replica_id() -> str:
    try:
        return serve.get_replica_context().replica_id.unique_id
    except Exception:  # not in a replica (e.g. the class used directly in a script)
        return ""


def _error(err: ParamError) -> JSONResponse:
    return JSONResponse(err.as_json(), status_code=400)


def _png(result: dict) -> Response:
    return Response(
        content=result["png"],
        media_type="image/png",
        headers={
            "X-Image-Seed": str(result["seed"]),
            "X-Image-Steps": str(result["steps"]),
            "X-Image-Size": f"{result['width']}x{result['height']}",
            # How many real prompts shared the pmap call that made this image.
            "X-Batch-Size": str(result["batch_size"]),
            "X-Painter-Replica": result["replica"],
        },
    )


# max_ongoing_requests: Ray Serve's default of 5 (since Ray 2.32) would let at
# most 5 prompts reach StableDiffusion at once, so no batch could grow past 5.
@serve.deployment(num_replicas=1, max_ongoing_requests=2 * MAX_BATCH_SIZE)
@serve.ingress(app)
class APIIngress:
    def __init__(self, diffusion_model_handle: DeploymentHandle) -> None:
        self.handle = diffusion_model_handle

    @app.get(
        "/imagine",
        responses={200: {"content": {"image/png": {}}}},
        response_class=Response,
    )
    async def generate(self, request: Request):
        try:
            req = imagine_params.parse(dict(request.query_params))
        except ParamError as err:
            return _error(err)
        return _png(await self.handle.generate.remote(req))

    @app.post(
        "/imagine",
        responses={200: {"content": {"image/png": {}}}},
        response_class=Response,
    )
    async def generate_json(self, request: Request):
        try:
            body = await request.json()
        except ValueError as err:
            return _error(ParamError("body", f"must be a JSON object: {err}"))
        if not isinstance(body, dict):
            return _error(ParamError("body", "must be a JSON object"))
        try:
            req = imagine_params.parse(body)
        except ParamError as err:
            return _error(err)
        return _png(await self.handle.generate.remote(req))

    @app.get("/batches")
    async def batches(self):
        """The batch sizes a StableDiffusion replica saw, one per pmap call,
        and its batch settings."""
        return {
            "batch_sizes": await self.handle.batch_sizes.remote(),
            **await self.handle.batching.remote(),
        }

    @app.get("/")
    async def describe(self):
        return {
            "endpoints": {
                "GET /imagine?prompt=...": "a PNG; the fields below as query parameters",
                "POST /imagine": "a PNG; the fields below as a JSON object",
                "GET /batches": "batch sizes the model saw, one per pmap call, and the batch settings",
            },
            "fields": {
                "prompt": f"required, 1 to {imagine_params.MAX_PROMPT_CHARS} characters",
                "seed": "a 64-bit integer; absent or 0: derived from the prompt",
                "steps": f"{imagine_params.MIN_STEPS} to {imagine_params.MAX_STEPS}; default: the model's (50)",
                "width, height": (
                    f"multiples of {imagine_params.SIZE_MULTIPLE} from {imagine_params.MIN_SIZE} "
                    f"to {imagine_params.MAX_SIZE}; default: the model's (512, or 64 for the tiny model)"
                ),
                "img_size": "sets width and height",
            },
        }


@serve.deployment(
    ray_actor_options={"resources": {"TPU": 4}},
    # A full batch needs this many prompts in the replica at once.
    max_ongoing_requests=MAX_BATCH_SIZE,
)
class StableDiffusion:
    """FlaxStableDiffusionPipeline on every device of the replica's TPU slice.

    reconfigure takes user_config {max_batch_size, batch_wait_timeout_s} to
    change the batching at run time.
    """

    def __init__(self, warmup: bool = False) -> None:
        # Imported here, as in the tutorial, so that building the graph and
        # running the ingress never load JAX.
        import sdmodel

        pipeline, params = sdmodel.load()
        self._model = sdmodel.Generator(pipeline, params)
        self._batching = {
            "max_batch_size": MAX_BATCH_SIZE,
            "batch_wait_timeout_s": BATCH_WAIT_TIMEOUT_S,
        }
        if warmup:
            self._model.generate([ImageRequest("A warmup request", 1)])

    def reconfigure(self, config: dict) -> None:
        """Applies user_config {max_batch_size, batch_wait_timeout_s}; a bad
        field changes nothing and raises an error naming it."""
        config = config or {}
        unknown = set(config) - set(self._batching)
        if unknown:
            raise ValueError(
                f"user_config: unknown field(s) {', '.join(sorted(unknown))}; "
                "allowed: max_batch_size, batch_wait_timeout_s"
            )
        size = config.get("max_batch_size", self._batching["max_batch_size"])
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"user_config.max_batch_size: must be a positive integer, got {size!r}")
        wait = config.get("batch_wait_timeout_s", self._batching["batch_wait_timeout_s"])
        if isinstance(wait, bool) or not isinstance(wait, (int, float)) or wait < 0:
            raise ValueError(f"user_config.batch_wait_timeout_s: must be a number >= 0, got {wait!r}")
        self.batched_generate_handler.set_max_batch_size(size)
        self.batched_generate_handler.set_batch_wait_timeout_s(float(wait))
        self._batching = {"max_batch_size": size, "batch_wait_timeout_s": float(wait)}

    @serve.batch(batch_wait_timeout_s=BATCH_WAIT_TIMEOUT_S, max_batch_size=MAX_BATCH_SIZE)
    async def batched_generate_handler(self, reqs: List[ImageRequest]) -> List[dict]:
        # The devices work in another thread, so this replica keeps taking
        # requests (they form the next batch) and answering health checks.
        results = await asyncio.get_running_loop().run_in_executor(
            None, self._model.generate, reqs
        )
        replica = _replica_id()
        for r in results:
            r["replica"] = replica
        return results

    async def generate(self, req: ImageRequest) -> dict:
        """One image: a dict with png (bytes), seed, steps, width, height,
        batch_size and replica."""
        return await self.batched_generate_handler(req)

    def batch_sizes(self) -> List[int]:
        return self._model.batch_sizes()

    def batching(self) -> dict:
        """The batch settings in force: max_batch_size and batch_wait_timeout_s."""
        return dict(self._batching)


deployment = APIIngress.bind(StableDiffusion.bind())

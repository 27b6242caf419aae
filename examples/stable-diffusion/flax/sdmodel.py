"""FlaxStableDiffusionPipeline over every JAX device, one pmap call per batch.

load() returns the pipeline and its parameters: the real model from the
Hugging Face hub when GANTRY_SD_MODEL is set (for example
CompVis/stable-diffusion-v1-4, revision GANTRY_SD_REVISION, default bf16, in
bfloat16), otherwise the tiny random-weight pipeline of tinysd.py, built once
into a cache folder and loaded the same way (float32).

Generator runs the GKE tutorial's TPU path: parameters replicated to every
device (flax.jax_utils.replicate), prompts tokenized and sharded
(flax.training.common_utils.shard), and the pipeline's _generate under
jax.pmap with steps, height, width and guidance bound by functools.partial
(they fix the compiled program, so there is one per image size and step
count). A batch is padded to a multiple of jax.device_count(). Each image's
starting noise comes from its own seed, so an image depends only on its
request, never on the batch it was generated in.

Import this module after XLA_FLAGS is final: on a CPU host the device count is
fixed when JAX starts (stable_diffusion_tpu.py sets it to 4).
"""

from __future__ import annotations

import functools
import io
import logging
import os
import threading
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax.jax_utils import replicate
from flax.training.common_utils import shard

import tinysd
from imagine_params import ImageRequest

# The real model's settings, as in the GKE tutorial.
HUB_REVISION = "bf16"
DEFAULT_STEPS = 50
GUIDANCE_SCALE = 7.5
PAD_PROMPT = "Scratch request"


class _DropFlaxDeprecation(logging.Filter):
    # diffusers 0.39 logs this once per attention module per trace: dozens of
    # identical lines for every compiled program.
    def filter(self, record: logging.LogRecord) -> bool:
        return "Flax classes are deprecated" not in record.getMessage()


def _quiet_diffusers() -> None:
    for handler in logging.getLogger("diffusers").handlers:
        if not any(isinstance(f, _DropFlaxDeprecation) for f in handler.filters):
            handler.addFilter(_DropFlaxDeprecation())


def use_compilation_cache() -> str:
    """Turns on JAX's persistent compilation cache and returns its folder:
    $JAX_COMPILATION_CACHE_DIR, default jax/ under the example's cache folder.

    A replica that starts again skips most of the compile of its first batch
    (on two CPU cores about 8 s become 2 s for the tiny model).
    """
    folder = os.environ.get("JAX_COMPILATION_CACHE_DIR") or os.path.join(
        tinysd.cache_root(), "jax"
    )
    jax.config.update("jax_compilation_cache_dir", folder)
    return folder


def load():
    """Returns (pipeline, params): the hub model named by GANTRY_SD_MODEL, else the tiny one."""
    from diffusers import FlaxStableDiffusionPipeline

    _quiet_diffusers()
    use_compilation_cache()
    model = os.environ.get("GANTRY_SD_MODEL", "").strip()
    if model:
        source = model
        revision = os.environ.get("GANTRY_SD_REVISION", HUB_REVISION) or None
        dtype = jnp.bfloat16
    else:
        source = tinysd.build(tinysd.default_folder())
        revision = None
        dtype = jnp.float32
    # The safety checker is not loaded: like the tutorial, the server calls
    # _generate, which never runs it.
    return FlaxStableDiffusionPipeline.from_pretrained(
        source,
        revision=revision,
        dtype=dtype,
        safety_checker=None,
        feature_extractor=None,
    )


def encode_png(image: np.ndarray) -> bytes:
    """A HxWx3 float image in [0, 1] as PNG bytes."""
    from PIL import Image

    pixels = (np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0) * 255).round()
    buf = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), "RGB").save(buf, format="PNG")
    return buf.getvalue()


def padded_size(n: int, devices: int) -> int:
    """The smallest multiple of devices that holds n prompts (at least one per device)."""
    if n < 1:
        raise ValueError(f"a batch needs at least one prompt, got {n}")
    return -(-n // devices) * devices


class Generator:
    """Generates batches of images with a loaded pipeline on all devices.

    generate() is safe to call from any thread; calls run one at a time, as
    the devices run one program at a time.
    """

    def __init__(self, pipeline, params, default_steps: int = DEFAULT_STEPS,
                 guidance_scale: float = GUIDANCE_SCALE):
        self.pipeline = pipeline
        self.devices = jax.device_count()
        self.default_steps = default_steps
        self.guidance_scale = guidance_scale
        self.default_size = pipeline.unet.config.sample_size * pipeline.vae_scale_factor
        self._latent_channels = pipeline.unet.config.in_channels
        self._p_params = replicate(params)
        self._programs: dict[tuple[int, int, int], object] = {}
        self._lock = threading.Lock()
        # Real prompts per pmap call, in call order (padding not counted).
        self._batch_sizes: list[int] = []

    def complete(self, req: ImageRequest) -> ImageRequest:
        """The request with the model's defaults in place of zero steps, width and height."""
        return ImageRequest(
            prompt=req.prompt,
            seed=req.seed,
            steps=req.steps or self.default_steps,
            width=req.width or self.default_size,
            height=req.height or self.default_size,
        )

    def batch_sizes(self) -> list[int]:
        """How many real prompts each pmap call carried so far."""
        with self._lock:
            return list(self._batch_sizes)

    def _program(self, steps: int, height: int, width: int):
        key = (steps, height, width)
        if key not in self._programs:
            generate = functools.partial(
                self.pipeline._generate,
                num_inference_steps=steps,
                height=height,
                width=width,
                guidance_scale=self.guidance_scale,
            )
            self._programs[key] = jax.pmap(generate)
        return self._programs[key]

    def _latents(self, seeds: Sequence[int], height: int, width: int) -> np.ndarray:
        shape = (
            self._latent_channels,
            height // self.pipeline.vae_scale_factor,
            width // self.pipeline.vae_scale_factor,
        )
        out = np.zeros((len(seeds),) + shape, np.float32)
        for i, seed in enumerate(seeds):
            rng = np.random.default_rng(seed % (1 << 64))
            out[i] = rng.standard_normal(shape, dtype=np.float32)
        return out

    def _run(self, reqs: list[ImageRequest]) -> list[bytes]:
        """One pmap call for requests that share steps, width and height."""
        steps, width, height = reqs[0].steps, reqs[0].width, reqs[0].height
        total = padded_size(len(reqs), self.devices)
        pad = total - len(reqs)
        prompts = [r.prompt for r in reqs] + [PAD_PROMPT] * pad
        seeds = [r.seed for r in reqs] + [0] * pad
        prompt_ids = shard(self.pipeline.prepare_inputs(prompts))
        latents = shard(self._latents(seeds, height, width))
        # The noise comes from latents; _generate still takes one key per device.
        rngs = jax.random.split(jax.random.PRNGKey(0), self.devices)
        images = self._program(steps, height, width)(
            prompt_ids, self._p_params, rngs, latents=latents
        )
        images = np.asarray(images.block_until_ready())
        images = images.reshape((images.shape[0] * images.shape[1],) + images.shape[-3:])
        self._batch_sizes.append(len(reqs))
        return [encode_png(img) for img in images[: len(reqs)]]

    def generate(self, reqs: Sequence[ImageRequest]) -> list[dict]:
        """Images for the requests, in order, as dicts: png (bytes), seed, steps,
        width, height, and batch_size (real prompts in the pmap call that made it).

        Requests with the same steps and size share one pmap call.
        """
        reqs = [self.complete(r) for r in reqs]
        groups: dict[tuple[int, int, int], list[int]] = {}
        for i, r in enumerate(reqs):
            groups.setdefault((r.steps, r.height, r.width), []).append(i)
        results: list[dict] = [{} for _ in reqs]
        with self._lock:
            for indexes in groups.values():
                group = [reqs[i] for i in indexes]
                pngs = self._run(group)
                for i, png in zip(indexes, pngs):
                    r = reqs[i]
                    results[i] = {
                        "png": png,
                        "seed": r.seed,
                        "steps": r.steps,
                        "width": r.width,
                        "height": r.height,
                        "batch_size": len(group),
                    }
        return results

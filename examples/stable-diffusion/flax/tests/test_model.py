"""The model part on its own: the tiny pipeline's build, save and load, the
pmap generate over 4 devices, batch padding and grouping, PNG encoding."""

import io
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

import sdmodel
import tinysd
from imagine_params import ImageRequest


def decode(png: bytes) -> Image.Image:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    img = Image.open(io.BytesIO(png))
    img.load()
    return img


def test_tiny_pipeline_is_saved_like_a_hub_model(generator):
    folder = tinysd.default_folder()
    with open(os.path.join(folder, "model_index.json")) as f:
        index = json.load(f)
    assert index["_class_name"] == "FlaxStableDiffusionPipeline"
    for part in ("unet", "vae", "text_encoder", "tokenizer", "scheduler"):
        assert os.path.isdir(os.path.join(folder, part)), part
    assert os.path.isfile(os.path.join(folder, "unet", "diffusion_flax_model.msgpack"))
    assert os.path.isfile(os.path.join(folder, "text_encoder", "flax_model.msgpack"))
    # Loaded back with from_pretrained: the sizes the README promises.
    pipe = generator.pipeline
    assert pipe.unet.config.sample_size == 8
    assert len(pipe.vae.config.block_out_channels) == 4
    assert pipe.vae_scale_factor == 8
    assert pipe.text_encoder.config.hidden_size == 32
    assert generator.default_size == 64
    # A second build finds the folder and leaves it alone.
    before = os.stat(os.path.join(folder, "model_index.json")).st_mtime_ns
    assert tinysd.build(folder) == folder
    assert os.stat(os.path.join(folder, "model_index.json")).st_mtime_ns == before


def test_tokenizer_takes_any_text(generator):
    ids = generator.pipeline.prepare_inputs(["a cat", "ünïcödé ☃ prompt"])
    assert ids.shape == (2, tinysd.MAX_TOKENS)
    assert (ids < tinysd.VOCAB_SIZE).all()


def test_the_pmap_path_runs_on_four_devices(generator):
    assert jax.device_count() == 4
    assert generator.devices == 4


@pytest.mark.parametrize("n,want", [(1, 4), (4, 4), (5, 8), (8, 8), (9, 12), (64, 64)])
def test_batches_are_padded_to_a_multiple_of_the_devices(n, want):
    assert sdmodel.padded_size(n, 4) == want


def test_padded_size_refuses_an_empty_batch():
    with pytest.raises(ValueError, match="at least one prompt"):
        sdmodel.padded_size(0, 4)


def test_one_prompt_gives_a_png_of_the_default_size(generator):
    (out,) = generator.generate([ImageRequest("a lighthouse at sunset", 7)])
    img = decode(out["png"])
    assert img.size == (64, 64) and img.mode == "RGB"
    assert (out["seed"], out["steps"], out["width"], out["height"]) == (7, 50, 64, 64)
    assert out["batch_size"] == 1
    # Random weights still paint something, not a flat image.
    assert np.asarray(img).std() > 0


def test_an_image_depends_on_its_request_not_its_batch(generator):
    alone = generator.generate([ImageRequest("a cat", 11)])[0]["png"]
    batch = generator.generate(
        [ImageRequest(f"prompt {i}", 100 + i) for i in range(4)]
        + [ImageRequest("a cat", 11)]
    )
    assert len(batch) == 5 and all(r["batch_size"] == 5 for r in batch)
    assert batch[4]["png"] == alone
    other_seed = generator.generate([ImageRequest("a cat", 12)])[0]["png"]
    assert other_seed != alone
    assert len({r["png"] for r in batch}) == 5


def test_one_pmap_call_per_size_in_a_batch(generator):
    before = len(generator.batch_sizes())
    reqs = [
        ImageRequest("wide", 1, 0, 128, 64),
        ImageRequest("square", 2),
        ImageRequest("wide too", 3, 0, 128, 64),
    ]
    out = generator.generate(reqs)
    assert generator.batch_sizes()[before:] == [2, 1]
    assert [decode(r["png"]).size for r in out] == [(128, 64), (64, 64), (128, 64)]
    assert [r["batch_size"] for r in out] == [2, 1, 2]


def test_encode_png_clips_to_the_pixel_range():
    img = np.zeros((8, 16, 3), np.float32)
    img[0, 0] = [2.0, -1.0, 0.5]
    png = decode(sdmodel.encode_png(img))
    assert png.size == (16, 8)
    assert png.getpixel((0, 0)) == (255, 0, 128)


def test_a_named_model_is_loaded_from_pretrained_in_bfloat16(generator, monkeypatch):
    # GANTRY_SD_MODEL takes what from_pretrained takes: a hub id on a TPU host,
    # here the tiny pipeline's folder (no download), and an empty revision.
    monkeypatch.setenv("GANTRY_SD_MODEL", tinysd.default_folder())
    monkeypatch.setenv("GANTRY_SD_REVISION", "")
    pipe, params = sdmodel.load()
    assert pipe.dtype == jnp.bfloat16
    assert pipe.unet.dtype == jnp.bfloat16 and pipe.vae.dtype == jnp.bfloat16
    assert pipe.safety_checker is None
    assert set(params) >= {"unet", "vae", "text_encoder", "scheduler"}

"""A tiny random-weight Stable Diffusion pipeline, built without a download.

The pipeline has every part of CompVis/stable-diffusion-v1-4 (CLIP text
encoder and tokenizer, UNet with cross-attention, 4-block VAE, PNDM
scheduler), only much smaller: the UNet's latent grid is 8x8, so images are
64x64 by default, and the text encoder's hidden size is 32. Its images are
noise-like pictures, but every array takes the path the real model's takes.

build(folder) writes it with save_pretrained, so the serving code loads it
with FlaxStableDiffusionPipeline.from_pretrained exactly like the real one.
The parameters come from jax.eval_shape (shapes only, no XLA compile) filled
with numpy random numbers: initialising them with XLA takes 20 to 45 s on two
cores, this takes well under a second.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile

import jax
import numpy as np

# Bump when the architecture below changes, so cached folders are rebuilt.
VERSION = 1

# CLIP's tokenizer reads a byte-level BPE vocabulary. The tiny one has a token
# for every byte (alone and at the end of a word) and no merges, so any text
# tokenizes, one token per character.
_START, _END = "<|startoftext|>", "<|endoftext|>"
MAX_TOKENS = 77
VOCAB_SIZE = 1000


def _byte_chars() -> list[str]:
    # GPT-2/CLIP's reversible byte-to-unicode table.
    bs = (
        list(range(ord("!"), ord("~") + 1))
        + list(range(ord("¡"), ord("¬") + 1))
        + list(range(ord("®"), ord("ÿ") + 1))
    )
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return [chr(c) for c in cs]


def _write_tokenizer(folder: str) -> None:
    from transformers import CLIPTokenizer

    chars = _byte_chars()
    tokens = chars + [c + "</w>" for c in chars] + [_START, _END]
    vocab = {t: i for i, t in enumerate(tokens)}
    with tempfile.TemporaryDirectory() as tmp:
        vocab_file = os.path.join(tmp, "vocab.json")
        merges_file = os.path.join(tmp, "merges.txt")
        with open(vocab_file, "w", encoding="utf-8") as f:
            json.dump(vocab, f)
        with open(merges_file, "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n")
        tok = CLIPTokenizer(
            vocab_file, merges_file, model_max_length=MAX_TOKENS, pad_token=_END
        )
        tok.save_pretrained(folder)


def _fill(shapes, seed: int):
    """Random parameters with the shapes of an eval_shape'd init.

    Norm scales are 1 and biases 0, as a real initialiser makes them; every
    other weight is N(0, 0.02), small enough that 50 denoising steps stay
    finite.
    """
    rng = np.random.default_rng(seed)

    def leaf(path, s):
        name = str(getattr(path[-1], "key", path[-1]))
        if name == "scale":
            return np.ones(s.shape, s.dtype)
        if name == "bias":
            return np.zeros(s.shape, s.dtype)
        return (rng.standard_normal(s.shape) * 0.02).astype(s.dtype)

    return jax.tree_util.tree_map_with_path(leaf, shapes)


def _models():
    from diffusers import FlaxAutoencoderKL, FlaxPNDMScheduler, FlaxUNet2DConditionModel
    from transformers import CLIPTextConfig, FlaxCLIPTextModel

    unet = FlaxUNet2DConditionModel(
        sample_size=8,
        in_channels=4,
        out_channels=4,
        block_out_channels=(32, 64),
        layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"),
        up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        attention_head_dim=8,
        cross_attention_dim=32,
    )
    # Four blocks, as in the real VAE: the image is 8x the latent grid.
    vae = FlaxAutoencoderKL(
        in_channels=3,
        out_channels=3,
        block_out_channels=(8, 8, 16, 16),
        down_block_types=("DownEncoderBlock2D",) * 4,
        up_block_types=("UpDecoderBlock2D",) * 4,
        latent_channels=4,
        norm_num_groups=4,
        sample_size=64,
    )
    text_config = CLIPTextConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=32,
        intermediate_size=37,
        num_attention_heads=4,
        num_hidden_layers=2,
        max_position_embeddings=MAX_TOKENS,
        bos_token_id=2 * 256,
        eos_token_id=2 * 256 + 1,
        pad_token_id=2 * 256 + 1,
    )
    text_encoder = FlaxCLIPTextModel(text_config, _do_init=False)
    # Stable Diffusion v1's scheduler settings.
    scheduler = FlaxPNDMScheduler(
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        num_train_timesteps=1000,
        set_alpha_to_one=False,
        skip_prk_steps=True,
        steps_offset=1,
    )
    return unet, vae, text_encoder, scheduler


def _params(unet, vae, text_encoder) -> dict:
    key = jax.random.PRNGKey(0)
    unet_shapes = jax.eval_shape(unet.init_weights, key)
    vae_shapes = jax.eval_shape(vae.init_weights, key)
    text_shapes = jax.eval_shape(
        lambda k: text_encoder.init_weights(k, (1, MAX_TOKENS)), key
    )
    return {
        "unet": _fill(unet_shapes, 1),
        "vae": _fill(vae_shapes, 2),
        "text_encoder": _fill(text_shapes, 3),
    }


def build(folder: str) -> str:
    """Writes the tiny pipeline to folder (if it is not there yet) and returns it.

    The folder is written under a temporary name and renamed into place, so
    replicas that start together never load a half-written pipeline.
    """
    if os.path.exists(os.path.join(folder, "model_index.json")):
        return folder
    from diffusers import FlaxStableDiffusionPipeline

    parent = os.path.dirname(os.path.abspath(folder))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tinysd-", dir=parent)
    try:
        unet, vae, text_encoder, scheduler = _models()
        params = _params(unet, vae, text_encoder)
        _write_tokenizer(os.path.join(tmp, "tokenizer"))
        from transformers import CLIPTokenizer

        pipeline = FlaxStableDiffusionPipeline(
            vae=vae,
            text_encoder=text_encoder,
            tokenizer=CLIPTokenizer.from_pretrained(os.path.join(tmp, "tokenizer")),
            unet=unet,
            scheduler=scheduler,
            safety_checker=None,
            feature_extractor=None,
        )
        pipeline.save_pretrained(tmp, params=params)
        try:
            os.rename(tmp, folder)
        except OSError:
            # Another process renamed its copy into place first.
            if not os.path.exists(os.path.join(folder, "model_index.json")):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def cache_root() -> str:
    """The example's cache folder: $GANTRY_SD_CACHE, default ~/.cache/gantry-sd."""
    return os.environ.get("GANTRY_SD_CACHE") or os.path.join(
        os.path.expanduser("~"), ".cache", "gantry-sd"
    )


def default_folder() -> str:
    """Where the tiny pipeline is cached: tiny-v<VERSION> under cache_root()."""
    return os.path.join(cache_root(), f"tiny-v{VERSION}")

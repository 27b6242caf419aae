"""The /imagine request: its fields, limits and errors.

The same API as the Go painter (examples/stable-diffusion/painter): prompt,
seed, steps, width, height and img_size, from a JSON body (POST) or the query
string (GET). This module imports nothing heavy, so the ingress replica never
loads JAX.
"""

from __future__ import annotations

import dataclasses
import hashlib
from typing import Any, Mapping

MIN_STEPS, MAX_STEPS = 1, 150
MIN_SIZE, MAX_SIZE, SIZE_MULTIPLE = 64, 1024, 8
MAX_PROMPT_CHARS = 1000
FIELDS = ("prompt", "seed", "steps", "width", "height", "img_size")
_INT64 = 1 << 63


class ParamError(ValueError):
    """A request field that is out of range; field names it, msg says what is allowed."""

    def __init__(self, field: str, msg: str):
        super().__init__(f"{field}: {msg}")
        self.field = field
        self.msg = msg

    def as_json(self) -> dict:
        return {"error": str(self), "field": self.field}


@dataclasses.dataclass(frozen=True)
class ImageRequest:
    """One image to generate. 0 in steps, width or height means the model's default."""

    prompt: str
    seed: int
    steps: int = 0
    width: int = 0
    height: int = 0


def prompt_seed(prompt: str) -> int:
    """The seed used when a request has none: a hash of the prompt, never 0."""
    digest = hashlib.sha256(prompt.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1 or 1


def _int(field: str, value: Any) -> int:
    if isinstance(value, bool):
        raise ParamError(field, f"must be an integer, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise ParamError(field, f"must be an integer, got {value!r}")


def _size(field: str, value: int) -> int:
    if value < MIN_SIZE or value > MAX_SIZE or value % SIZE_MULTIPLE:
        raise ParamError(
            field,
            f"must be a multiple of {SIZE_MULTIPLE} from {MIN_SIZE} to {MAX_SIZE}, got {value}",
        )
    return value


def parse(fields: Mapping[str, Any]) -> ImageRequest:
    """Checks a request's fields (from JSON or a query string) and returns the request.

    Unknown fields and out-of-range values raise ParamError naming the field.
    """
    for name in fields:
        if name not in FIELDS:
            raise ParamError(name, f"unknown field; allowed: {', '.join(FIELDS)}")
    prompt = fields.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        raise ParamError("prompt", "is required: a non-empty description of the image")
    if len(prompt) > MAX_PROMPT_CHARS:
        raise ParamError(
            "prompt", f"must be at most {MAX_PROMPT_CHARS} characters, got {len(prompt)}"
        )
    seed = _int("seed", fields.get("seed", 0))
    if not -_INT64 <= seed < _INT64:
        raise ParamError("seed", f"must be a 64-bit integer, got {seed}")
    steps = _int("steps", fields.get("steps", 0))
    if steps and not MIN_STEPS <= steps <= MAX_STEPS:
        raise ParamError(
            "steps", f"must be an integer from {MIN_STEPS} to {MAX_STEPS}, got {steps}"
        )
    width = height = 0
    if "img_size" in fields:
        width = height = _size("img_size", _int("img_size", fields["img_size"]))
    if "width" in fields:
        width = _size("width", _int("width", fields["width"]))
    if "height" in fields:
        height = _size("height", _int("height", fields["height"]))
    return ImageRequest(
        prompt=prompt,
        seed=seed or prompt_seed(prompt),
        steps=steps,
        width=width,
        height=height,
    )

"""The handle-call wire format shared by callers, the gateway and replicas.

A handle call is ``POST /-/gantry/call`` on a replica (or ``POST /{app}/{deployment}`` on
the gateway's handle endpoint) whose body is ``pickle.dumps((args, kwargs))``. The answer
is ``pickle.dumps(("ok", value))`` or ``pickle.dumps(("err", exception))``; a streaming
answer is a sequence of frames, each a 4-byte big-endian length followed by one such
pickle. Pickle is only ever exchanged between processes of the same application, which
run the same code from the same working directory (see docs/python.md).
"""

from __future__ import annotations

import pickle
import struct
import traceback
from typing import Any

CONTENT_TYPE = "application/x-gantry-pickle"
CALL_PATH = "/-/gantry/call"
HEADER_METHOD = "gantry-method"
HEADER_STREAM = "gantry-stream"
HEADER_MODEL_ID = "serve_multiplexed_model_id"
HEADER_MODELS = "gantry-multiplexed-models"
HEADER_REJECTED = "gantry-rejected"

_FRAME_HEAD = struct.Struct(">I")
FRAME_HEAD_SIZE = _FRAME_HEAD.size


def encode_call(args: tuple, kwargs: dict) -> bytes:
    """Serialize a call's positional and keyword arguments."""
    return pickle.dumps((tuple(args), dict(kwargs)), protocol=pickle.HIGHEST_PROTOCOL)


def decode_call(body: bytes) -> tuple[tuple, dict]:
    """Deserialize a call body; raise ValueError when it is not (args, kwargs)."""
    value = pickle.loads(body)
    if (
        not isinstance(value, tuple)
        or len(value) != 2
        or not isinstance(value[0], tuple)
        or not isinstance(value[1], dict)
    ):
        raise ValueError("handle call body must be pickle.dumps((args, kwargs))")
    return value


def encode_ok(value: Any) -> bytes:
    """Serialize a successful result."""
    return pickle.dumps(("ok", value), protocol=pickle.HIGHEST_PROTOCOL)


def encode_error(exc: BaseException) -> bytes:
    """Serialize an exception, falling back to a RuntimeError carrying its traceback text
    when the exception itself does not pickle (or does not unpickle)."""
    try:
        data = pickle.dumps(("err", exc), protocol=pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)
        return data
    except Exception:
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        fallback = RuntimeError(f"{type(exc).__name__}: {exc} (the exception does not pickle)\n{text}")
        return pickle.dumps(("err", fallback), protocol=pickle.HIGHEST_PROTOCOL)


def decode_result(body: bytes) -> Any:
    """Return the value of an ("ok", value) answer or raise the exception of an
    ("err", exception) answer."""
    kind, value = pickle.loads(body)
    if kind == "ok":
        return value
    if kind == "err" and isinstance(value, BaseException):
        raise value
    raise ValueError(f"malformed handle answer: kind {kind!r}")


def frame(payload: bytes) -> bytes:
    """Prefix one streamed answer with its length."""
    return _FRAME_HEAD.pack(len(payload)) + payload


def frame_length(head: bytes) -> int:
    """Decode a frame's 4-byte length prefix."""
    return _FRAME_HEAD.unpack(head)[0]

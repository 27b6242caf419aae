"""``POST /-/gantry/call``: a handle call arriving from the gateway (PYPROTO.md 2).

The body is pickle.dumps((args, kwargs)). A user exception is a 200 answer carrying
("err", exception), never an HTTP error; only a malformed request gets a 400. Streaming
calls (``Gantry-Stream: 1``) answer with length-prefixed frames.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import traceback
from typing import Any, AsyncIterator

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

from .. import context, wire
from .servable import Servable

log = logging.getLogger("gantry_serve.replica")


async def _iterate(value: Any) -> AsyncIterator[Any]:
    if inspect.isasyncgen(value):
        async for item in value:
            yield item
        return
    done = object()
    while True:
        item = await asyncio.to_thread(next, value, done)
        if item is done:
            return
        yield item


async def _frames(value: Any, token_model: str) -> AsyncIterator[bytes]:
    token = context.set_multiplexed_model_id(token_model)
    try:
        async for item in _iterate(value):
            yield wire.frame(wire.encode_ok(item))
    except Exception as exc:
        yield wire.frame(wire.encode_error(exc))
    finally:
        context.reset_multiplexed_model_id(token)


async def handle_call(servable: Servable, request: Request) -> Response:
    method_name = request.headers.get(wire.HEADER_METHOD) or "__call__"
    stream = request.headers.get(wire.HEADER_STREAM, "") == "1"
    model_id = request.headers.get(wire.HEADER_MODEL_ID, "")
    try:
        args, kwargs = wire.decode_call(await request.body())
    except Exception as exc:
        return PlainTextResponse(f"bad handle call body: {type(exc).__name__}: {exc}", status_code=400)
    token = context.set_multiplexed_model_id(model_id)
    trace = context.set_traceparent(request.headers.get("traceparent", ""))
    try:
        value = await servable.call(servable.method(method_name), args, kwargs)
        is_gen = inspect.isasyncgen(value) or inspect.isgenerator(value)
        if stream and not is_gen:
            raise TypeError(
                f"{servable.name}.{method_name} was called with stream=True but returned a "
                f"{type(value).__name__}, not a generator"
            )
        if is_gen and not stream:
            raise TypeError(
                f"{servable.name}.{method_name} returned a generator: call it through "
                "handle.options(stream=True)"
            )
    except Exception as exc:
        # The caller gets the exception; the replica's log keeps the traceback.
        log.warning(
            "handle call %s.%s raised %s: %s\n%s",
            servable.name,
            method_name,
            type(exc).__name__,
            exc,
            "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        )
        body = wire.encode_error(exc)
        if stream:
            return Response(wire.frame(body), media_type=wire.CONTENT_TYPE)
        return Response(body, media_type=wire.CONTENT_TYPE)
    finally:
        context.reset_multiplexed_model_id(token)
        context.reset_traceparent(trace)
    if stream:
        return StreamingResponse(_frames(value, model_id), media_type=wire.CONTENT_TYPE)
    try:
        body = wire.encode_ok(value)
    except Exception as exc:
        body = wire.encode_error(TypeError(f"the result of {servable.name}.{method_name} does not pickle: {exc}"))
    return Response(body, media_type=wire.CONTENT_TYPE)

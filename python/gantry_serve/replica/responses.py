"""Turning a deployment's return value into an HTTP response (ingress traffic).

Response objects pass as they are; str is text/plain, bytes application/octet-stream,
generators (sync or async) stream their items, anything else is JSON.
"""

from __future__ import annotations

import inspect
import json
from typing import Any, AsyncIterator, Iterator

from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse


def _chunk(item: Any) -> bytes:
    if isinstance(item, bytes):
        return item
    if isinstance(item, str):
        return item.encode()
    return (json.dumps(_jsonable(item)) + "\n").encode()


def _jsonable(value: Any) -> Any:
    try:
        from fastapi.encoders import jsonable_encoder
    except ImportError:
        return value
    return jsonable_encoder(value)


async def _agen(items: AsyncIterator[Any]) -> AsyncIterator[bytes]:
    async for item in items:
        yield _chunk(item)


def _gen(items: Iterator[Any]) -> Iterator[bytes]:
    for item in items:
        yield _chunk(item)


def to_response(value: Any) -> Response:
    if isinstance(value, Response):
        return value
    if inspect.isasyncgen(value):
        return StreamingResponse(_agen(value))
    if inspect.isgenerator(value):
        return StreamingResponse(_gen(value))
    if isinstance(value, str):
        return PlainTextResponse(value)
    if isinstance(value, (bytes, bytearray)):
        return Response(bytes(value), media_type="application/octet-stream")
    return JSONResponse(_jsonable(value))

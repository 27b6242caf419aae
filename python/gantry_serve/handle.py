"""DeploymentHandle, DeploymentResponse and DeploymentResponseGenerator (Ray's names).

``handle.remote(...)`` starts the call at once, through the gateway's handle endpoint
(never replica to replica), and returns a DeploymentResponse: ``await`` it in async code or
call ``.result(timeout_s=...)`` in sync code. With ``options(stream=True)`` it returns a
DeploymentResponseGenerator, iterated with ``async for`` or ``for``. A DeploymentResponse
passed as a top-level argument to another call is resolved to its value before that call
is sent, as Ray does.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
from typing import Any, AsyncIterator, Iterator
from urllib.parse import quote

from . import context, transport, wire
from .exceptions import (
    BackPressureError,
    DeploymentUnavailableError,
    HandleAuthError,
    HandleCallError,
    ReplicaFailedError,
    RequestTimeoutError,
)

_UNSET: Any = object()


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class DeploymentHandle:
    """A handle to a deployment of an application; cheap to copy and picklable."""

    def __init__(
        self,
        deployment_name: str,
        app_name: str = "",
        *,
        method_name: str = "__call__",
        multiplexed_model_id: str = "",
        stream: bool = False,
    ):
        self.deployment_name = deployment_name
        # Without an application: the one this replica belongs to (as Ray's handles).
        self.app_name = app_name or os.environ.get("GANTRY_APPLICATION", "default")
        self._method = method_name
        self._model_id = multiplexed_model_id
        self._stream = stream

    def options(
        self,
        *,
        method_name: str = _UNSET,
        multiplexed_model_id: str = _UNSET,
        stream: bool = _UNSET,
        use_new_handle_api: bool = _UNSET,
        **unsupported: Any,
    ) -> "DeploymentHandle":
        """A copy with method_name, multiplexed_model_id or stream changed."""
        if unsupported:
            raise TypeError(
                f"DeploymentHandle.options: {', '.join(sorted(unsupported))} not supported by gantry-serve "
                "(supported: method_name, multiplexed_model_id, stream)"
            )
        if multiplexed_model_id is not _UNSET and not isinstance(multiplexed_model_id, str):
            raise TypeError(f"multiplexed_model_id: must be a str, got {type(multiplexed_model_id).__name__}")
        return DeploymentHandle(
            self.deployment_name,
            self.app_name,
            method_name=self._method if method_name is _UNSET else method_name,
            multiplexed_model_id=self._model_id if multiplexed_model_id is _UNSET else multiplexed_model_id,
            stream=self._stream if stream is _UNSET else bool(stream),
        )

    def __getattr__(self, name: str) -> "DeploymentHandle":
        if name.startswith("_"):
            raise AttributeError(name)
        return self.options(method_name=name)

    def remote(self, *args: Any, **kwargs: Any) -> "DeploymentResponse | DeploymentResponseGenerator":
        """Call the deployment's method with args; the call starts now."""
        if self._stream:
            return DeploymentResponseGenerator(self, args, kwargs)
        return DeploymentResponse(self, args, kwargs)

    def __reduce__(self) -> Any:
        return (_rebuild, (self.deployment_name, self.app_name, self._method, self._model_id, self._stream))

    def __repr__(self) -> str:
        return f"DeploymentHandle(deployment={self.deployment_name!r}, app={self.app_name!r})"


def _rebuild(deployment: str, app: str, method: str, model_id: str, stream: bool) -> DeploymentHandle:
    return DeploymentHandle(deployment, app, method_name=method, multiplexed_model_id=model_id, stream=stream)


def _http_error(handle: DeploymentHandle, status: int, body: bytes) -> HandleCallError:
    target = f"deployment {handle.deployment_name!r} of application {handle.app_name!r}"
    text = body.decode("utf-8", "replace").strip()[:500]
    kinds = {
        401: (HandleAuthError, "the gateway refused the handle token (GANTRY_HANDLE_TOKEN is missing or wrong)"),
        404: (DeploymentUnavailableError, "the gateway does not know this application or deployment"),
        502: (ReplicaFailedError, "the replica failed before answering"),
        503: (BackPressureError, "no replica has capacity (queue full or no replica)"),
        504: (RequestTimeoutError, "the call exceeded the gateway's request timeout"),
    }
    cls, what = kinds.get(status, (HandleCallError, "unexpected answer"))
    message = f"handle call to {target} failed: HTTP {status}: {what}" + (f": {text}" if text else "")
    return cls(message, status=status, application=handle.app_name, deployment=handle.deployment_name)


async def _resolve(args: tuple, kwargs: dict) -> tuple[tuple, dict]:
    async def one(value: Any) -> Any:
        if isinstance(value, DeploymentResponseGenerator):
            raise TypeError("a DeploymentResponseGenerator cannot be passed as an argument to a handle call")
        if isinstance(value, DeploymentResponse):
            return await value
        return value

    return tuple([await one(a) for a in args]), {k: await one(v) for k, v in kwargs.items()}


async def _send(handle: DeploymentHandle, args: tuple, kwargs: dict, stream: bool, traceparent: str) -> Any:
    args, kwargs = await _resolve(args, kwargs)
    headers = {
        "Content-Type": wire.CONTENT_TYPE,
        "Authorization": f"Bearer {transport.token()}",
        wire.HEADER_METHOD: handle._method,
    }
    if stream:
        headers[wire.HEADER_STREAM] = "1"
    if handle._model_id:
        headers[wire.HEADER_MODEL_ID] = handle._model_id
    if traceparent:
        headers["traceparent"] = traceparent
    path = f"/{quote(handle.app_name, safe='')}/{quote(handle.deployment_name, safe='')}"
    client = transport.client_for(asyncio.get_running_loop())
    resp = await client.post(path, headers, wire.encode_call(args, kwargs))
    if resp.status != 200:
        raise _http_error(handle, resp.status, await resp.read())
    return resp


async def _call(handle: DeploymentHandle, args: tuple, kwargs: dict, traceparent: str) -> Any:
    resp = await _send(handle, args, kwargs, stream=False, traceparent=traceparent)
    return wire.decode_result(await resp.read())


class DeploymentResponse:
    """The future result of a handle call: awaitable, or ``.result()`` from sync code."""

    def __init__(self, handle: DeploymentHandle, args: tuple, kwargs: dict):
        # The caller's trace context, read here: the call may run on another thread's loop.
        coro = _call(handle, args, kwargs, context.get_traceparent())
        loop = _running_loop()
        if loop is not None:
            self._loop = loop
            self._task: asyncio.Task | None = loop.create_task(coro)
            self._cfut: concurrent.futures.Future | None = None
        else:
            self._loop = transport.home_loop()
            self._task = None
            self._cfut = asyncio.run_coroutine_threadsafe(coro, self._loop)

    def __await__(self) -> Any:
        return self._await().__await__()

    async def _await(self) -> Any:
        if self._task is not None:
            if asyncio.get_running_loop() is self._loop:
                return await self._task
            return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(_shielded(self._task), self._loop))
        assert self._cfut is not None
        return await asyncio.wrap_future(self._cfut)

    def result(self, *, timeout_s: float | None = None) -> Any:
        """Block until the call's value is there (or raise its exception); TimeoutError after
        timeout_s. Not allowed inside a running event loop: use ``await`` there."""
        if _running_loop() is not None:
            raise RuntimeError(
                "DeploymentResponse.result() blocks, so it cannot be called from within a running asyncio "
                "event loop; use `await response` instead"
            )
        fut = self._cfut
        if fut is None:
            assert self._task is not None
            fut = asyncio.run_coroutine_threadsafe(_shielded(self._task), self._loop)
        try:
            return fut.result(timeout_s)
        except concurrent.futures.TimeoutError:
            raise TimeoutError(f"handle call did not finish within {timeout_s} s") from None

    def cancel(self) -> None:
        """Cancel the call (the gateway sees the connection close)."""
        if self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        elif self._cfut is not None:
            self._cfut.cancel()


async def _shielded(task: asyncio.Future) -> Any:
    return await asyncio.shield(task)


_END = object()


class DeploymentResponseGenerator:
    """The items of a streaming handle call (``options(stream=True)``), in order."""

    def __init__(self, handle: DeploymentHandle, args: tuple, kwargs: dict):
        self._queue: asyncio.Queue = asyncio.Queue()
        coro = self._pump(handle, args, kwargs, context.get_traceparent())
        loop = _running_loop()
        if loop is not None:
            self._loop = loop
            self._task: Any = loop.create_task(coro)
        else:
            self._loop = transport.home_loop()
            self._task = asyncio.run_coroutine_threadsafe(coro, self._loop)
        self._finished = False

    async def _pump(self, handle: DeploymentHandle, args: tuple, kwargs: dict, traceparent: str) -> None:
        try:
            resp = await _send(handle, args, kwargs, stream=True, traceparent=traceparent)
            buf = bytearray()
            async for chunk in resp.iter_chunks():
                buf += chunk
                while len(buf) >= wire.FRAME_HEAD_SIZE:
                    size = wire.frame_length(bytes(buf[: wire.FRAME_HEAD_SIZE]))
                    if len(buf) < wire.FRAME_HEAD_SIZE + size:
                        break
                    payload = bytes(buf[wire.FRAME_HEAD_SIZE : wire.FRAME_HEAD_SIZE + size])
                    del buf[: wire.FRAME_HEAD_SIZE + size]
                    try:
                        self._queue.put_nowait(("item", wire.decode_result(payload)))
                    except Exception as exc:  # an ("err", exception) frame ends the stream
                        self._queue.put_nowait(("err", exc))
                        resp.close()
                        return
            if buf:
                raise wire_error(handle, "the stream ended inside a frame")
            self._queue.put_nowait(("end", None))
        except asyncio.CancelledError:
            self._queue.put_nowait(("err", asyncio.CancelledError()))
            raise
        except BaseException as exc:
            self._queue.put_nowait(("err", exc))

    async def _next_on_loop(self) -> Any:
        kind, value = await self._queue.get()
        if kind == "item":
            return value
        self._finished = True
        if kind == "err":
            raise value
        return _END

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if self._finished:
            raise StopAsyncIteration
        if asyncio.get_running_loop() is self._loop:
            value = await self._next_on_loop()
        else:
            value = await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(self._next_on_loop(), self._loop))
        if value is _END:
            raise StopAsyncIteration
        return value

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if self._finished:
            raise StopIteration
        if _running_loop() is not None:
            raise RuntimeError(
                "a DeploymentResponseGenerator cannot be iterated with `for` inside a running asyncio event "
                "loop; use `async for` instead"
            )
        value = asyncio.run_coroutine_threadsafe(self._next_on_loop(), self._loop).result()
        if value is _END:
            raise StopIteration
        return value

    def cancel(self) -> None:
        """Stop the stream (the gateway sees the connection close)."""
        if isinstance(self._task, asyncio.Task):
            self._loop.call_soon_threadsafe(self._task.cancel)
        else:
            self._task.cancel()


def wire_error(handle: DeploymentHandle, what: str) -> HandleCallError:
    return HandleCallError(
        f"streaming handle call to deployment {handle.deployment_name!r} of application "
        f"{handle.app_name!r} failed: {what}",
        application=handle.app_name,
        deployment=handle.deployment_name,
    )

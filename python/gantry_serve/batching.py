"""@serve.batch: gather concurrent calls into one call of a list-taking function.

With Ray's semantics: the decorated function (or method) is ``async def`` and takes, for
each of its parameters, a list with one element per request; it returns a list of the
same length whose element i answers request i. Callers call it with single values and
await a single result. A batch is started when ``max_batch_size`` calls are waiting or
``batch_wait_timeout_s`` after the first waiting call, whichever is first; at most
``max_concurrent_batches`` batches run at once. An async generator function is batched
too: each yield is a list with one item per request (a ``StopIteration`` instance ends that
request's stream early), and each caller gets an async generator of its own items. An
exception from the function is raised to every caller in the batch.
``fn.set_max_batch_size(n)`` and ``fn.set_batch_wait_timeout_s(t)`` change the settings
at run time (for example from ``reconfigure``).
"""

from __future__ import annotations

import asyncio
import functools
import inspect
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

_QUEUE_ATTR = "__gantry_batch_queues__"


@dataclass
class _Settings:
    max_batch_size: int
    batch_wait_timeout_s: float
    max_concurrent_batches: int


def _check_size(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"max_batch_size: must be an int >= 1, got {value!r}")
    return value


def _check_timeout(value: Any) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
        raise ValueError(f"batch_wait_timeout_s: must be a number >= 0, got {value!r}")
    return float(value)


@dataclass
class _Request:
    args: tuple
    kwargs: dict
    sink: Any  # a Future for plain batching, an asyncio.Queue for generators


class _BatchQueue:
    """The waiting calls of one batched function (per instance for methods), bound to the
    event loop it was created on."""

    def __init__(self, func: Callable, self_arg: Any, settings: _Settings, generator: bool):
        self._func = func
        self._self = self_arg
        self._settings = settings
        self._generator = generator
        self._waiting: deque[_Request] = deque()
        self._arrived = asyncio.Event()
        self._full = asyncio.Event()
        self._slots = asyncio.Semaphore(settings.max_concurrent_batches)
        self._tasks: set[asyncio.Task] = set()
        self._runner = asyncio.get_running_loop().create_task(self._form_batches())

    def put(self, request: _Request) -> None:
        self._waiting.append(request)
        self._arrived.set()
        if len(self._waiting) >= self._settings.max_batch_size:
            self._full.set()

    async def _form_batches(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._arrived.wait()
            deadline = loop.time() + self._settings.batch_wait_timeout_s
            while len(self._waiting) < self._settings.max_batch_size:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                self._full.clear()
                try:
                    await asyncio.wait_for(self._full.wait(), remaining)
                except asyncio.TimeoutError:
                    break
            await self._slots.acquire()
            batch = []
            while self._waiting and len(batch) < self._settings.max_batch_size:
                req = self._waiting.popleft()
                if isinstance(req.sink, asyncio.Future) and req.sink.done():
                    continue  # the caller went away
                batch.append(req)
            if not self._waiting:
                self._arrived.clear()
            self._full.clear()
            if not batch:
                self._slots.release()
                continue
            task = loop.create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _call_args(self, batch: list[_Request]) -> tuple[tuple, dict]:
        first = batch[0]
        for req in batch:
            if len(req.args) != len(first.args) or req.kwargs.keys() != first.kwargs.keys():
                raise TypeError(
                    "all calls of a @serve.batch function in one batch must pass the same arguments "
                    "(the same number of positional arguments and the same keyword names)"
                )
        args = tuple([req.args[i] for req in batch] for i in range(len(first.args)))
        kwargs = {k: [req.kwargs[k] for req in batch] for k in first.kwargs}
        if self._self is not None:
            args = (self._self,) + args
        return args, kwargs

    async def _run(self, batch: list[_Request]) -> None:
        try:
            args, kwargs = self._call_args(batch)
            if self._generator:
                await self._run_generator(batch, args, kwargs)
            else:
                results = await self._func(*args, **kwargs)
                if not hasattr(results, "__len__") or len(results) != len(batch):
                    got = len(results) if hasattr(results, "__len__") else type(results).__name__
                    raise TypeError(
                        f"batched function {self._func.__qualname__} must return a list as long as its input: "
                        f"the input list has length {len(batch)} but it returned {got}"
                    )
                for req, result in zip(batch, results):
                    if not req.sink.done():
                        req.sink.set_result(result)
        except BaseException as exc:
            for req in batch:
                if self._generator:
                    req.sink.put_nowait(("err", exc))
                elif not req.sink.done():
                    req.sink.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
        finally:
            self._slots.release()

    async def _run_generator(self, batch: list[_Request], args: tuple, kwargs: dict) -> None:
        open_ = [True] * len(batch)
        async for items in self._func(*args, **kwargs):
            if not hasattr(items, "__len__") or len(items) != len(batch):
                raise TypeError(
                    f"batched generator {self._func.__qualname__} must yield lists as long as its input "
                    f"({len(batch)})"
                )
            for i, (req, item) in enumerate(zip(batch, items)):
                if not open_[i]:
                    continue
                if isinstance(item, StopIteration):
                    open_[i] = False
                    req.sink.put_nowait(("end", None))
                else:
                    req.sink.put_nowait(("item", item))
        for i, req in enumerate(batch):
            if open_[i]:
                req.sink.put_nowait(("end", None))


def _self_arg(wrapper: Callable, func: Callable, args: tuple) -> Any:
    """The instance when wrapper is called as a method, else None."""
    if args and getattr(type(args[0]), func.__name__, None) is wrapper:
        return args[0]
    return None


def batch(
    _func: Callable | None = None,
    *,
    max_batch_size: int = 10,
    batch_wait_timeout_s: float = 0.01,
    max_concurrent_batches: int = 1,
) -> Any:
    """Batch concurrent calls of an async function or method (``@serve.batch`` or
    ``@serve.batch(max_batch_size=..., batch_wait_timeout_s=..., max_concurrent_batches=...)``)."""
    if not isinstance(max_concurrent_batches, int) or isinstance(max_concurrent_batches, bool) or max_concurrent_batches < 1:
        raise ValueError(f"max_concurrent_batches: must be an int >= 1, got {max_concurrent_batches!r}")
    settings = _Settings(_check_size(max_batch_size), _check_timeout(batch_wait_timeout_s), max_concurrent_batches)

    def wrap(func: Callable) -> Callable:
        generator = inspect.isasyncgenfunction(func)
        if not (generator or inspect.iscoroutinefunction(func)):
            raise TypeError(f"functions decorated with @serve.batch must be 'async def', {func.__qualname__} is not")
        shared: dict[str, _BatchQueue] = {}

        def queue_for(self_arg: Any) -> _BatchQueue:
            loop = asyncio.get_running_loop()
            if self_arg is not None:
                queues = self_arg.__dict__.setdefault(_QUEUE_ATTR, {})
            else:
                queues = shared
            key = f"{func.__name__}@{id(loop)}"
            queue = queues.get(key)
            if queue is None:
                queue = _BatchQueue(func, self_arg, settings, generator)
                queues[key] = queue
            return queue

        def enqueue(args: tuple, kwargs: dict, sink: Any) -> None:
            self_arg = _self_arg(wrapper, func, args)
            if self_arg is not None:
                args = args[1:]
            queue_for(self_arg).put(_Request(args, kwargs, sink))

        if generator:

            @functools.wraps(func)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                sink: asyncio.Queue = asyncio.Queue()
                enqueue(args, kwargs, sink)
                while True:
                    kind, value = await sink.get()
                    if kind == "end":
                        return
                    if kind == "err":
                        raise value
                    yield value

        else:

            @functools.wraps(func)
            async def wrapper(*args: Any, **kwargs: Any) -> Any:
                future = asyncio.get_running_loop().create_future()
                enqueue(args, kwargs, future)
                return await future

        def set_max_batch_size(value: int) -> None:
            settings.max_batch_size = _check_size(value)

        def set_batch_wait_timeout_s(value: float) -> None:
            settings.batch_wait_timeout_s = _check_timeout(value)

        wrapper.set_max_batch_size = set_max_batch_size  # type: ignore[attr-defined]
        wrapper.set_batch_wait_timeout_s = set_batch_wait_timeout_s  # type: ignore[attr-defined]
        wrapper._get_max_batch_size = lambda: settings.max_batch_size  # type: ignore[attr-defined]
        wrapper._get_batch_wait_timeout_s = lambda: settings.batch_wait_timeout_s  # type: ignore[attr-defined]
        wrapper.__gantry_batch__ = settings  # type: ignore[attr-defined]
        return wrapper

    if _func is not None:
        return wrap(_func)
    return wrap

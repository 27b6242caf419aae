"""@serve.multiplexed: an LRU of models loaded by an async loader, per replica.

``@serve.multiplexed(max_num_models_per_replica=3)`` decorates ``async def
get_model(self, model_id: str)`` (or a plain async function). Calling it returns the
loaded model, loading it on a miss; concurrent calls for one id share one load. Past the
limit (-1: no limit) the least recently used model is evicted: its ``aclose()`` is awaited
if it has one, else its ``__del__`` is called (awaited when async), as Ray does.
``loaded_model_ids()`` lists what this process holds, for the replica's
``Gantry-Multiplexed-Models`` header.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import weakref
from collections import OrderedDict
from typing import Any, Callable

_CACHE_ATTR = "__gantry_model_caches__"
_caches: "weakref.WeakSet[_ModelCache]" = weakref.WeakSet()


class _ModelCache:
    def __init__(self, loader: Callable, self_arg: Any, limit: int):
        self._loader = loader
        self._self = self_arg
        self._limit = limit
        self._models: OrderedDict[str, Any] = OrderedDict()
        self._loading: dict[str, asyncio.Future] = {}

    def ids(self) -> list[str]:
        return list(self._models)

    async def get(self, model_id: str) -> Any:
        if model_id in self._models:
            self._models.move_to_end(model_id)
            return self._models[model_id]
        pending = self._loading.get(model_id)
        if pending is not None:
            return await asyncio.shield(pending)
        future = asyncio.get_running_loop().create_future()
        self._loading[model_id] = future
        try:
            while self._limit != -1 and len(self._models) >= self._limit:
                await self._evict_oldest()
            args = (self._self, model_id) if self._self is not None else (model_id,)
            model = await self._loader(*args)
            self._models[model_id] = model
            future.set_result(model)
            return model
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: waiters re-raise it
            raise
        finally:
            del self._loading[model_id]

    async def _evict_oldest(self) -> None:
        _, model = self._models.popitem(last=False)
        close = getattr(model, "aclose", None)
        if close is not None and inspect.iscoroutinefunction(close):
            await close()
            return
        cls = type(model)
        finalizer = getattr(cls, "__del__", None)
        if finalizer is None:
            return
        result = finalizer(model)
        if inspect.isawaitable(result):
            await result
        try:  # called once: the garbage collector must not run it again
            model.__class__ = _finalized_class(cls)
        except TypeError:
            pass


_finalized: dict[type, type] = {}


def _finalized_class(cls: type) -> type:
    """A subclass of cls whose __del__ does nothing (cached per class)."""
    sub = _finalized.get(cls)
    if sub is None:
        sub = type(cls.__name__, (cls,), {"__del__": lambda self: None, "__module__": cls.__module__})
        _finalized[cls] = sub
    return sub


def loaded_model_ids() -> list[str]:
    """Every model id currently loaded by a @serve.multiplexed loader in this process."""
    ids: list[str] = []
    for cache in list(_caches):
        ids.extend(i for i in cache.ids() if i not in ids)
    return ids


def multiplexed(_func: Callable | None = None, *, max_num_models_per_replica: int = 3) -> Any:
    """Cache models per replica by id (``@serve.multiplexed`` or
    ``@serve.multiplexed(max_num_models_per_replica=N)``)."""
    limit = max_num_models_per_replica
    if not isinstance(limit, int) or isinstance(limit, bool) or (limit < 1 and limit != -1):
        raise ValueError(f"max_num_models_per_replica: must be an int >= 1 or -1 (no limit), got {limit!r}")

    def wrap(func: Callable) -> Callable:
        if not inspect.iscoroutinefunction(func):
            raise TypeError(f"functions decorated with @serve.multiplexed must be 'async def', {func.__qualname__} is not")
        params = list(inspect.signature(func).parameters)
        is_method = bool(params) and params[0] == "self"
        shared: list[_ModelCache] = []

        def cache_for(self_arg: Any) -> _ModelCache:
            if self_arg is None:
                if not shared:
                    shared.append(_ModelCache(func, None, limit))
                    _caches.add(shared[0])
                return shared[0]
            caches = self_arg.__dict__.setdefault(_CACHE_ATTR, {})
            cache = caches.get(func.__name__)
            if cache is None:
                cache = _ModelCache(func, self_arg, limit)
                caches[func.__name__] = cache
                _caches.add(cache)
            return cache

        @functools.wraps(func)
        async def wrapper(*args: Any) -> Any:
            self_arg, rest = (args[0], args[1:]) if is_method else (None, args)
            if len(rest) != 1 or not isinstance(rest[0], str):
                raise TypeError(f"{func.__qualname__} takes one model id (a str), got {rest!r}")
            return await cache_for(self_arg).get(rest[0])

        wrapper.__gantry_multiplexed__ = True  # type: ignore[attr-defined]
        return wrapper

    if _func is not None:
        return wrap(_func)
    return wrap

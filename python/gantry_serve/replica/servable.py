"""The user's deployment object inside a replica: construction, calls, health, reconfigure.

The constructor runs in a worker thread so the replica answers health checks (503) while a
model loads. Async methods run on the replica's event loop; sync methods run in worker
threads, so they may block and may call ``DeploymentHandle.remote(...).result()``.
Generators (sync or async) are returned unstarted for the caller to stream.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
import sys
import threading
from typing import Any, Callable

from ..deployment import Application
from ..graph import Graph, replace_children
from ..handle import DeploymentHandle
from ..ingress import ingress_app


async def _in_daemon_thread(fn: Callable, *args: Any, **kwargs: Any) -> Any:
    """Run fn in a daemon thread (with the caller's contextvars) and await its result.

    Unlike asyncio.to_thread, a constructor still loading a model when SIGTERM arrives does
    not keep the process from exiting.
    """
    loop = asyncio.get_running_loop()
    future = loop.create_future()

    def settle(ok: bool, value: Any) -> None:
        if not future.done():
            (future.set_result if ok else future.set_exception)(value)

    def run() -> None:
        try:
            outcome = (True, fn(*args, **kwargs))
        except BaseException as exc:
            outcome = (False, exc)
        try:
            loop.call_soon_threadsafe(settle, *outcome)
        except RuntimeError:
            pass  # the loop is gone: the replica is shutting down

    ctx = contextvars.copy_context()
    threading.Thread(target=ctx.run, args=(run,), name="gantry-serve-constructor", daemon=True).start()
    return await future


class UnknownMethodError(AttributeError):
    """The handle call names a method the deployment does not have."""


class Servable:
    """One deployment node of the graph, constructed for this replica."""

    def __init__(self, graph: Graph, deployment_name: str, app_name: str):
        if deployment_name not in graph.nodes:
            raise LookupError(
                f"deployment {deployment_name!r} is not in the application graph; "
                f"it has: {', '.join(graph.nodes)}"
            )
        node = graph.nodes[deployment_name]
        self.name = deployment_name
        self.target: Callable = node.deployment.func_or_class
        self.is_class = inspect.isclass(self.target)

        def handle_for(child: Application) -> DeploymentHandle:
            return DeploymentHandle(graph.name_of(child), app_name)

        self._args = replace_children(node.args, handle_for)
        self._kwargs = replace_children(node.kwargs, handle_for)
        self.instance: Any = None
        self.asgi_app = ingress_app(self.target) if self.is_class else None
        # A class's loaders are its methods; a function's live in its module.
        scope = vars(self.target) if self.is_class else vars(sys.modules.get(self.target.__module__, inspect))
        self.uses_multiplexing = any(getattr(v, "__gantry_multiplexed__", False) for v in list(scope.values()))

    async def construct(self) -> None:
        if self.is_class:
            self.instance = await _in_daemon_thread(self.target, *self._args, **self._kwargs)
        else:
            if self._args or self._kwargs:
                raise TypeError(f"function deployment {self.name!r} takes no bound arguments")
            self.instance = self.target

    def method(self, name: str) -> Callable:
        if not self.is_class:
            if name != "__call__":
                raise UnknownMethodError(f"function deployment {self.name!r} has only __call__, not {name!r}")
            return self.instance
        fn = getattr(self.instance, name, None)
        if fn is None or not callable(fn) or (name.startswith("__") and name != "__call__"):
            public = sorted(
                n for n in dir(self.target) if not n.startswith("_") and callable(getattr(self.target, n, None))
            )
            if "__call__" in vars(self.target):
                public.insert(0, "__call__")
            raise UnknownMethodError(
                f"deployment {self.name!r} has no method {name!r}; its methods: {', '.join(public) or 'none'}"
            )
        return fn

    async def call(self, fn: Callable, args: tuple, kwargs: dict) -> Any:
        """Run fn; return its value, or the unstarted generator it made."""
        # A callable object (not a function) is classified by its __call__ method.
        target = fn if inspect.isroutine(fn) else type(fn).__call__
        if inspect.iscoroutinefunction(target) or inspect.isasyncgenfunction(target) or inspect.isgeneratorfunction(target):
            result = fn(*args, **kwargs)
        else:
            result = await asyncio.to_thread(fn, *args, **kwargs)
        if inspect.isawaitable(result):
            result = await result
        return result

    async def check_health(self) -> None:
        fn = getattr(self.instance, "check_health", None) if self.is_class else None
        if fn is not None:
            await self.call(fn, (), {})

    def has_reconfigure(self) -> bool:
        return self.is_class and callable(getattr(self.instance, "reconfigure", None))

    async def reconfigure(self, user_config: Any) -> None:
        if not self.has_reconfigure():
            raise TypeError(f"deployment {self.name!r} has a user_config but no reconfigure(user_config) method")
        await self.call(self.instance.reconfigure, (user_config,), {})

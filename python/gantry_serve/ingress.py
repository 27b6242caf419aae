"""@serve.ingress(app): serve a FastAPI (or any ASGI) app from a deployment class.

Routes the app declares on the class's methods (``@app.get(...)`` inside the class body)
get the replica's instance as ``self`` through a FastAPI dependency, as Ray's class-based
views do; routes declared outside the class work unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

INGRESS_ATTR = "__gantry_ingress_app__"


def _servable_object() -> Any:
    from .context import get_replica_context

    return get_replica_context().servable_object


def _bind_class_routes(app: Any, cls: type) -> None:
    from fastapi import APIRouter, Depends
    from fastapi.routing import APIRoute, APIWebSocketRoute

    methods = {member for _, member in inspect.getmembers(cls, inspect.isfunction)}
    routes = [r for r in app.routes if isinstance(r, (APIRoute, APIWebSocketRoute)) and r.endpoint in methods]
    router = APIRouter()
    for route in routes:
        app.router.routes.remove(route)
        signature = inspect.signature(route.endpoint)
        params = list(signature.parameters.values())
        if not params:
            raise TypeError(f"route method {route.endpoint.__qualname__} must take self as its first parameter")
        new_params = [params[0].replace(default=Depends(_servable_object))] + [
            p.replace(kind=inspect.Parameter.KEYWORD_ONLY) for p in params[1:]
        ]
        route.endpoint.__signature__ = signature.replace(parameters=new_params)
        route.endpoint.__gantry_cls__ = cls
        router.routes.append(route)
    app.include_router(router)
    # Drop routes bound to other ingress classes sharing this app object.
    app.router.routes[:] = [
        r for r in app.router.routes if getattr(getattr(r, "endpoint", None), "__gantry_cls__", cls) is cls
    ]


def ingress(app: Any) -> Callable[[type], type]:
    """Decorate a deployment class so it serves app (a FastAPI or other ASGI app)."""
    if not callable(app):
        raise TypeError(f"serve.ingress expects an ASGI app (for example a FastAPI instance), got {app!r}")

    def wrap(cls: type) -> type:
        if not inspect.isclass(cls):
            raise TypeError(f"@serve.ingress must decorate a class, got {cls!r}")
        if _is_fastapi(app):
            _bind_class_routes(app, cls)
        setattr(cls, INGRESS_ATTR, app)
        return cls

    return wrap


def _is_fastapi(app: Any) -> bool:
    try:
        from fastapi import FastAPI
    except ImportError:
        return False
    return isinstance(app, FastAPI)


def ingress_app(target: Any) -> Any:
    """The ASGI app a deployment's class serves, or None."""
    return getattr(target, INGRESS_ATTR, None)

"""The replica's ASGI app: health, reconfigure, handle calls and ingress traffic.

``GET /-/healthz`` answers 503 until the user object is constructed (and reconfigured
with GANTRY_USER_CONFIG), then 200 "ok" while ``check_health()`` passes. Every answer
carries ``Gantry-Multiplexed-Models`` when the deployment multiplexes models. Ingress
traffic is served by the ``@serve.ingress`` app with the instance bound, or by
``__call__(request)``; ``X-Forwarded-Prefix`` becomes the ASGI root_path.
"""

from __future__ import annotations

import asyncio
import json
import logging
import traceback
from typing import Any, Awaitable, Callable

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from .. import context, multiplex, wire
from ..context import DeploymentID, ReplicaContext, ReplicaID
from .calls import handle_call
from .responses import to_response
from .servable import Servable

log = logging.getLogger("gantry_serve.replica")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict]]
Send = Callable[[dict], Awaitable[None]]


class ReplicaApp:
    """ASGI entry point of one replica process."""

    def __init__(self, servable: Servable, app_name: str, replica_id: str, user_config: Any, on_fatal: Callable[[], None]):
        self.servable = servable
        self.app_name = app_name
        self.replica_id = replica_id
        self.user_config = user_config
        self.ready = False
        self.init_error = ""
        self._on_fatal = on_fatal
        self._init_task: asyncio.Task | None = None
        self._lifespan: Any = None

    async def initialize(self) -> None:
        """Construct the user object, apply the initial user_config, start the ingress app's
        lifespan; on failure log why and stop the process (exit 1)."""
        try:
            # Set before the constructor runs, so __init__ may read it (as in Ray); the
            # servable_object is filled in once the object exists.
            replica_ctx = ReplicaContext(
                ReplicaID(self.replica_id, DeploymentID(self.servable.name, self.app_name)), None
            )
            context.set_replica_context(replica_ctx)
            await self.servable.construct()
            replica_ctx.servable_object = self.servable.instance
            if self.user_config is not None:
                if self.servable.has_reconfigure():
                    await self.servable.reconfigure(self.user_config)
                else:
                    log.warning("deployment %r has a user_config but no reconfigure method; ignoring it", self.servable.name)
            app = self.servable.asgi_app
            router = getattr(app, "router", None)
            if router is not None and hasattr(router, "lifespan_context"):
                self._lifespan = router.lifespan_context(app)
                await self._lifespan.__aenter__()
            self.ready = True
            log.info("deployment %r ready", self.servable.name)
        except BaseException as exc:
            self.init_error = f"{type(exc).__name__}: {exc}"
            log.error(
                "deployment %r failed to start: %s\n%s",
                self.servable.name,
                self.init_error,
                "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
            )
            self._on_fatal()

    @staticmethod
    def _models_header() -> tuple[bytes, bytes]:
        return (wire.HEADER_MODELS.encode(), ",".join(multiplex.loaded_model_ids()).encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan_events(receive, send)
            return
        if kind not in ("http", "websocket"):
            return
        if self.servable.uses_multiplexing and kind == "http":
            inner_send = send

            async def send(message: dict) -> None:
                # The models loaded when the answer starts, so a load this request made shows.
                if message["type"] == "http.response.start":
                    message = dict(message)
                    message["headers"] = list(message.get("headers", [])) + [self._models_header()]
                await inner_send(message)

        path = scope["path"]
        if kind == "http" and path == "/-/healthz":
            await (await self._health())(scope, receive, send)
        elif kind == "http" and path == "/-/reconfigure":
            await (await self._reconfigure(Request(scope, receive)))(scope, receive, send)
        elif kind == "http" and path == wire.CALL_PATH:
            if not self.ready:
                await _unavailable(scope, receive, send)
                return
            await (await handle_call(self.servable, Request(scope, receive)))(scope, receive, send)
        else:
            if not self.ready:
                await _unavailable(scope, receive, send)
                return
            await self._ingress(_with_prefix(scope), receive, send)

    async def _lifespan_events(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._init_task = asyncio.get_running_loop().create_task(self.initialize())
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._lifespan is not None:
                    try:
                        await self._lifespan.__aexit__(None, None, None)
                    except Exception:
                        log.exception("the ingress app's shutdown failed")
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _health(self) -> Response:
        if self.init_error:
            return PlainTextResponse(f"constructor failed: {self.init_error}", status_code=503)
        if not self.ready:
            return PlainTextResponse("starting: the deployment's constructor is running", status_code=503)
        try:
            await self.servable.check_health()
        except Exception as exc:
            return PlainTextResponse(f"check_health failed: {type(exc).__name__}: {exc}", status_code=503)
        return PlainTextResponse("ok")

    async def _reconfigure(self, request: Request) -> Response:
        if request.method != "POST":
            return PlainTextResponse("/-/reconfigure takes POST with the user_config as JSON", status_code=405)
        try:
            user_config = json.loads(await request.body() or b"null")
        except ValueError as exc:
            return PlainTextResponse(f"/-/reconfigure: the body is not JSON: {exc}", status_code=400)
        if self._init_task is not None and not self.ready:
            await asyncio.shield(self._init_task)
        try:
            await self.servable.reconfigure(user_config)
        except Exception as exc:
            log.error("reconfigure of %r failed: %s: %s", self.servable.name, type(exc).__name__, exc)
            return PlainTextResponse(f"reconfigure failed: {type(exc).__name__}: {exc}", status_code=500)
        self.user_config = user_config
        return PlainTextResponse("ok")

    async def _ingress(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict((k.decode("latin-1"), v.decode("latin-1")) for k, v in scope.get("headers", []))
        model = context.set_multiplexed_model_id(headers.get(wire.HEADER_MODEL_ID, ""))
        trace = context.set_traceparent(headers.get("traceparent", ""))
        try:
            if self.servable.asgi_app is not None:
                await self.servable.asgi_app(scope, receive, send)
                return
            if scope["type"] != "http":
                return
            try:
                fn = self.servable.method("__call__")
                value = await self.servable.call(fn, (Request(scope, receive),), {})
                response = to_response(value)
            except Exception as exc:
                log.error(
                    "%s.__call__ raised:\n%s",
                    self.servable.name,
                    "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
                )
                response = PlainTextResponse(
                    f"deployment {self.servable.name!r} raised {type(exc).__name__}: {exc}", status_code=500
                )
            await response(scope, receive, send)
        finally:
            context.reset_multiplexed_model_id(model)
            context.reset_traceparent(trace)


async def _unavailable(scope: Scope, receive: Receive, send: Send) -> None:
    response = PlainTextResponse("the replica is still starting", status_code=503, headers={wire.HEADER_REJECTED: "1"})
    await response(scope, receive, send)


def _with_prefix(scope: Scope) -> Scope:
    """Scope with root_path from X-Forwarded-Prefix, and path including it (ASGI's rule)."""
    prefix = ""
    for key, value in scope.get("headers", []):
        if key == b"x-forwarded-prefix":
            prefix = value.decode("latin-1").rstrip("/")
            break
    if not prefix:
        return scope
    scope = dict(scope)
    scope["root_path"] = prefix
    scope["path"] = prefix + scope["path"]
    if scope.get("raw_path"):
        scope["raw_path"] = prefix.encode("latin-1") + scope["raw_path"]
    return scope

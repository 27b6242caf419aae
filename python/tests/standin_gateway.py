"""A stand-in for the Go gateway's handle endpoint, for the SDK's own tests.

It stands in for the Go gateway (helper pygo's branch tests the real one end to end): it
checks ``Authorization: Bearer TOKEN`` (401 otherwise), forwards ``POST /{app}/{deployment}``
unchanged to that deployment's replica at ``/-/gantry/call`` (404 for an unknown one) and
streams the answer back. Usage: ``python standin_gateway.py PORT TOKEN APP DEP=REPLICA_PORT...``.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from gantry_serve.client import HTTPClient


def make_app(token: str, app_name: str, replicas: dict[str, int]) -> Starlette:
    clients = {dep: HTTPClient(f"http://127.0.0.1:{port}") for dep, port in replicas.items()}

    async def forward(request: Request) -> Response:
        if request.headers.get("authorization") != f"Bearer {token}":
            return PlainTextResponse("handle calls need Authorization: Bearer <GANTRY_HANDLE_TOKEN>", status_code=401)
        app, dep = request.path_params["app"], request.path_params["dep"]
        if app != app_name or dep not in clients:
            return PlainTextResponse(f"unknown deployment {dep!r} of application {app!r}", status_code=404)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in ("host", "content-length", "authorization")}
        answer = await clients[dep].post("/-/gantry/call", headers, await request.body())
        keep = {k: v for k, v in answer.headers.items() if k in ("content-type", "gantry-multiplexed-models")}
        return StreamingResponse(answer.iter_chunks(), status_code=answer.status, headers=keep)

    return Starlette(routes=[Route("/{app}/{dep}", forward, methods=["POST"])])


if __name__ == "__main__":
    port, token, app_name = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    replicas = dict((kv.split("=")[0], int(kv.split("=")[1])) for kv in sys.argv[4:])
    uvicorn.run(make_app(token, app_name, replicas), host="127.0.0.1", port=port, log_level="warning")

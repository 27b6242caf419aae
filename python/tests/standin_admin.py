"""A stand-in for the Go gateway's REST API, for testing serve.run's side of it.

It stands in for the Go gateway (helper pygo's Go tests deploy import_path configs on the
real one): it records each PUT /api/serve/applications/ body, reports every application it
was given as RUNNING, serves the applied config at /api/gantry/applications (starting with
http_options, a worker group and one application), answers /api/ray/version and
/api/gantry/handle. Usage: ``python standin_admin.py PORT RECORD_FILE HANDLE_ADDRESS``.
"""

from __future__ import annotations

import json
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


def make_app(record: str, handle_address: str) -> Starlette:
    applied: dict = {
        "http_options": {"port": 8123},
        "worker_groups": [{"name": "tpu", "accelerator": "tpu-v4-podslice", "topology": "2x2x1"}],
        "applications": [{"name": "other", "route_prefix": "/other", "import_path": "other:app", "python": "/opt/py"}],
    }
    apps: dict[str, dict] = {a["name"]: a for a in applied["applications"]}

    async def version(request: Request) -> Response:
        return JSONResponse({"version": "4", "ray_version": "2.60.0", "ray_commit": "gantry"})

    async def applications(request: Request) -> Response:
        if request.method == "PUT":
            body = await request.json()
            with open(record, "a") as f:
                f.write(json.dumps(body) + "\n")
            applied.clear()
            applied.update(body)
            apps.clear()
            apps.update({a["name"]: a for a in body["applications"]})
            return Response(status_code=200)
        if request.method == "DELETE":
            apps.clear()
            return Response(status_code=200)
        return JSONResponse(
            {"applications": {n: {"name": n, "status": "RUNNING", "deployed_app_config": c} for n, c in apps.items()}}
        )

    async def gantry_applications(request: Request) -> Response:
        return JSONResponse({"applications": {}, "config": applied})

    async def handle(request: Request) -> Response:
        return JSONResponse({"address": handle_address, "token": "from-admin"})

    return Starlette(
        routes=[
            Route("/api/ray/version", version),
            Route("/api/serve/applications/", applications, methods=["GET", "PUT", "DELETE"]),
            Route("/api/gantry/applications", gantry_applications),
            Route("/api/gantry/handle", handle),
        ]
    )


if __name__ == "__main__":
    uvicorn.run(make_app(sys.argv[2], sys.argv[3]), host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")

"""Running one replica: read the gateway's environment, load the graph, serve with uvicorn.

Environment (PYPROTO.md 2): PORT (required), GANTRY_APPLICATION, GANTRY_REPLICA_ID,
GANTRY_USER_CONFIG (JSON), GANTRY_HANDLE_ADDRESS and GANTRY_HANDLE_TOKEN (for handle
calls). uvicorn listens on 127.0.0.1:$PORT (``GANTRY_HOST`` overrides the host); on SIGTERM
it stops accepting, finishes the requests in flight and the process exits 0.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import sys

from .. import context, transport
from ..graph import walk
from ..loader import LoadError, load_application
from .app import ReplicaApp
from .servable import Servable

log = logging.getLogger("gantry_serve.replica")


class ConfigError(Exception):
    """The replica's environment is incomplete or malformed."""


def _env_port() -> int:
    raw = os.environ.get("PORT", "")
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"PORT: must be the port to listen on (1-65535), got {raw!r}") from None
    if not 0 < port < 65536:
        raise ConfigError(f"PORT: must be in 1-65535, got {port}")
    return port


def _env_user_config() -> object:
    raw = os.environ.get("GANTRY_USER_CONFIG", "")
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ConfigError(f"GANTRY_USER_CONFIG: must be JSON: {exc}") from None


def _setup_logging(deployment: str, replica_id: str) -> None:
    logging.basicConfig(
        stream=sys.stdout,
        level=os.environ.get("GANTRY_LOG_LEVEL", "INFO").upper(),
        format=f"%(asctime)s %(levelname)s {deployment} {replica_id} %(name)s: %(message)s",
        force=True,
    )


async def _serve(servable: Servable, app_name: str, replica_id: str, user_config: object, port: int) -> int:
    import uvicorn

    failed: list[bool] = []
    app = ReplicaApp(servable, app_name, replica_id, user_config, on_fatal=lambda: fatal())
    host = os.environ.get("GANTRY_HOST", "127.0.0.1")
    log.info("serving deployment %r of application %r on %s:%d", servable.name, app_name, host, port)

    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        log_config=None,
        access_log=False,
        timeout_keep_alive=120,
    )
    server = uvicorn.Server(config)

    def fatal() -> None:
        failed.append(True)
        server.should_exit = True

    transport.set_home_loop(asyncio.get_running_loop())
    await server.serve()
    return 1 if failed else 0


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m gantry_serve.replica IMPORT_PATH DEPLOYMENT", file=sys.stderr)
        return 2
    import_path, deployment = argv
    app_name = os.environ.get("GANTRY_APPLICATION", "default")
    replica_id = os.environ.get("GANTRY_REPLICA_ID", f"{deployment}-{os.getpid()}")
    _setup_logging(deployment, replica_id)
    context.set_role("replica")
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        port = _env_port()
        user_config = _env_user_config()
        graph = walk(load_application(import_path))
        servable = Servable(graph, deployment, app_name)
        if user_config is None and deployment in graph.nodes:
            # The gateway passes the merged user_config; without it, the code's applies.
            user_config = graph.nodes[deployment].deployment.options_set.get("user_config")
    except (ConfigError, LoadError, LookupError, TypeError, ValueError) as exc:
        print(f"gantry_serve.replica: {exc}", file=sys.stderr)
        return 1
    # uvicorn handles SIGTERM itself while it serves (drain, then stop) and re-raises it
    # afterwards; this handler turns that into a clean exit 0.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return asyncio.run(_serve(servable, app_name, replica_id, user_config, port))
    except KeyboardInterrupt:
        return 0

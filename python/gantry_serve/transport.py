"""Where handle calls go: the gateway's handle endpoint, one pooled client per event loop,
and the loop that runs calls made from code without a running event loop.

Replicas get ``GANTRY_HANDLE_ADDRESS`` and ``GANTRY_HANDLE_TOKEN`` from the gateway;
``serve.run`` sets them (``configure``) for a local driver script. Calls made from a thread
without a running loop (sync code) run on the replica's main loop, registered by the runner
with ``set_home_loop``, or else on one background loop thread this module starts on first
use.
"""

from __future__ import annotations

import asyncio
import os
import threading
import weakref

from .client import HTTPClient
from .exceptions import HandleConfigError

_lock = threading.Lock()
_address: str | None = None
_token: str | None = None
_home_loop: asyncio.AbstractEventLoop | None = None
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, HTTPClient]" = weakref.WeakKeyDictionary()


def configure(address: str, token: str) -> None:
    """Point handle calls of this process at a gateway's handle endpoint."""
    global _address, _token
    with _lock:
        _address, _token = address.rstrip("/"), token
        _clients.clear()


def address() -> str:
    value = _address or os.environ.get("GANTRY_HANDLE_ADDRESS", "")
    if not value:
        raise HandleConfigError(
            "DeploymentHandle calls need the gateway's handle endpoint: GANTRY_HANDLE_ADDRESS is not set "
            "(the gateway sets it for its replicas; serve.run sets it for a local driver script)"
        )
    return value.rstrip("/")


def token() -> str:
    return _token if _token is not None else os.environ.get("GANTRY_HANDLE_TOKEN", "")


def client_for(loop: asyncio.AbstractEventLoop) -> HTTPClient:
    """The pooled client of loop (created on first use)."""
    client = _clients.get(loop)
    if client is None:
        client = HTTPClient(address())
        _clients[loop] = client
    return client


def set_home_loop(loop: asyncio.AbstractEventLoop | None) -> None:
    """Run calls made from threads without a loop on loop (the replica's main loop)."""
    global _home_loop
    _home_loop = loop


def home_loop() -> asyncio.AbstractEventLoop:
    """The loop for calls from sync code: the replica's, else a background one."""
    global _home_loop
    with _lock:
        if _home_loop is not None and not _home_loop.is_closed():
            return _home_loop
        loop = asyncio.new_event_loop()
        thread = threading.Thread(target=loop.run_forever, name="gantry-serve-handles", daemon=True)
        thread.start()
        _home_loop = loop
        return loop

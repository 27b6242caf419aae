"""The handle client's HTTP/1.1 over real sockets: pooled connections, chunked bodies,
a pooled connection the server closed, and clear errors without an endpoint."""

from __future__ import annotations

import asyncio
import pickle

import pytest

from gantry_serve import transport, wire
from gantry_serve.client import HTTPClient
from gantry_serve.exceptions import HandleConfigError
from gantry_serve.handle import DeploymentHandle


async def serve(close_after_each: bool) -> tuple[asyncio.AbstractServer, list[int]]:
    accepted: list[int] = []

    async def on_conn(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(1)
        while True:
            head = await reader.readuntil(b"\r\n\r\n") if not reader.at_eof() else b""
            if not head:
                break
            length = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0].split(b":")[1])
            body = await reader.readexactly(length)
            if body == b"chunked":
                writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
            else:
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            await writer.drain()
            if close_after_each:
                writer.close()
                return

    server = await asyncio.start_server(on_conn, "127.0.0.1", 0)
    return server, accepted


def test_connections_are_pooled_and_chunked_bodies_read() -> None:
    async def main() -> tuple[list[bytes], int]:
        server, accepted = await serve(close_after_each=False)
        port = server.sockets[0].getsockname()[1]
        client = HTTPClient(f"http://127.0.0.1:{port}")
        bodies = []
        for body in (b"one", b"chunked", b"two", b"three"):
            resp = await client.post("/x", {}, body)
            bodies.append(await resp.read())
        client.close()
        server.close()
        return bodies, len(accepted)

    bodies, connections = asyncio.run(main())
    assert bodies == [b"one", b"abcde", b"two", b"three"]
    assert connections == 1


def test_pooled_connection_closed_by_server_is_replaced() -> None:
    async def main() -> tuple[list[bytes], int]:
        server, accepted = await serve(close_after_each=True)
        port = server.sockets[0].getsockname()[1]
        client = HTTPClient(f"http://127.0.0.1:{port}")
        bodies = []
        for body in (b"a", b"b", b"c"):
            resp = await client.post("/x", {}, body)
            bodies.append(await resp.read())
            await asyncio.sleep(0)  # let the server's close reach the client
        server.close()
        return bodies, len(accepted)

    bodies, connections = asyncio.run(main())
    assert bodies == [b"a", b"b", b"c"]
    assert connections == 3


def test_no_handle_endpoint_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GANTRY_HANDLE_ADDRESS", raising=False)
    transport.configure("", "")
    with pytest.raises(HandleConfigError, match="GANTRY_HANDLE_ADDRESS is not set"):
        DeploymentHandle("Model", "demo").remote(1).result(timeout_s=10)


def test_unpicklable_exception_comes_back_as_runtime_error() -> None:
    class Local(Exception):  # defined in a function: pickle cannot find it by name
        pass

    try:
        raise Local("secret sauce")
    except Local as exc:
        body = wire.encode_error(exc)
    kind, value = pickle.loads(body)
    assert kind == "err"
    assert isinstance(value, RuntimeError)
    assert "Local: secret sauce (the exception does not pickle)" in str(value)
    with pytest.raises(RuntimeError, match="secret sauce"):
        wire.decode_result(body)

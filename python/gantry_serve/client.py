"""A small asyncio HTTP/1.1 client for handle calls, with pooled keep-alive connections.

One ``HTTPClient`` belongs to one event loop (connections are loop-bound). It speaks just
what handle calls need: POST with a body, answers framed by Content-Length or chunked
transfer encoding, and an iterator over a streamed body. A connection returns to the pool
only when its answer was read to the end.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import AsyncIterator
from urllib.parse import urlsplit

_MAX_IDLE = 64
_MAX_HEAD = 64 * 1024


class ProtocolError(Exception):
    """The server's answer is not valid HTTP/1.1."""


@dataclass
class _Conn:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    reused: bool = False

    def close(self) -> None:
        self.writer.close()


@dataclass
class Response:
    """An answer whose body is read with ``read()`` or ``iter_chunks()`` (once)."""

    status: int
    reason: str
    headers: dict[str, str]
    _conn: _Conn | None
    _client: "HTTPClient"
    _chunked: bool
    _length: int | None
    _done: bool = field(default=False)

    async def read(self) -> bytes:
        parts = [chunk async for chunk in self.iter_chunks()]
        return b"".join(parts)

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None or self._done:
            return
        try:
            if self._chunked:
                while True:
                    line = await conn.reader.readline()
                    if not line.endswith(b"\n"):
                        raise ProtocolError("connection closed inside a chunked body")
                    size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        while (await conn.reader.readline()) not in (b"\r\n", b"\n", b""):
                            pass
                        break
                    data = await conn.reader.readexactly(size)
                    await conn.reader.readexactly(2)
                    yield data
            elif self._length is not None:
                remaining = self._length
                while remaining > 0:
                    data = await conn.reader.read(min(remaining, 1 << 16))
                    if not data:
                        raise ProtocolError("connection closed before the body's Content-Length")
                    remaining -= len(data)
                    yield data
            else:
                while True:
                    data = await conn.reader.read(1 << 16)
                    if not data:
                        break
                    yield data
                conn.close()
                self._conn = None
                self._done = True
                return
            self._done = True
            self._conn = None
            if self.headers.get("connection", "").lower() == "close":
                conn.close()
            else:
                self._client._release(conn)
        finally:
            if not self._done and self._conn is not None:
                self._conn.close()
                self._conn = None

    def close(self) -> None:
        """Drop the connection when the body was not read to the end."""
        if self._conn is not None and not self._done:
            self._conn.close()
            self._conn = None


class HTTPClient:
    """HTTP/1.1 to one origin (``http://host:port``), pooled, for one event loop."""

    def __init__(self, base_url: str):
        parts = urlsplit(base_url)
        if parts.scheme != "http" or not parts.hostname:
            raise ValueError(f"handle address must be http://host:port, got {base_url!r}")
        self.host = parts.hostname
        self.port = parts.port or 80
        self._idle: list[_Conn] = []

    def _release(self, conn: _Conn) -> None:
        if len(self._idle) < _MAX_IDLE and not conn.writer.is_closing():
            conn.reused = True
            self._idle.append(conn)
        else:
            conn.close()

    async def _connect(self) -> _Conn:
        while self._idle:
            conn = self._idle.pop()
            if not conn.writer.is_closing() and not conn.reader.at_eof():
                return conn
            conn.close()
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=_MAX_HEAD)
        return _Conn(reader, writer)

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> Response:
        """Send a POST and read the answer's head; the body is read from the Response.

        A pooled connection that the server closed while idle is retried once on a new
        connection, only when no byte of an answer was received.
        """
        for attempt in (0, 1):
            conn = await self._connect()
            try:
                return await self._exchange(conn, path, headers, body)
            except (ConnectionError, asyncio.IncompleteReadError, _NoAnswer) as exc:
                conn.close()
                if attempt == 0 and conn.reused and isinstance(exc, (_NoAnswer, ConnectionResetError, BrokenPipeError)):
                    continue
                if isinstance(exc, _NoAnswer):
                    raise ConnectionError(f"{self.host}:{self.port} closed the connection without answering") from None
                raise
            except BaseException:
                conn.close()
                raise
        raise AssertionError("unreachable")

    async def _exchange(self, conn: _Conn, path: str, headers: dict[str, str], body: bytes) -> Response:
        lines = [f"POST {path} HTTP/1.1", f"Host: {self.host}:{self.port}", f"Content-Length: {len(body)}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        conn.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await conn.writer.drain()
        status_line = await conn.reader.readline()
        if not status_line:
            raise _NoAnswer()
        try:
            version, code, *reason = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
            status = int(code)
        except ValueError:
            raise ProtocolError(f"bad status line {status_line!r}") from None
        if not version.startswith("HTTP/1."):
            raise ProtocolError(f"bad status line {status_line!r}")
        head: dict[str, str] = {}
        while True:
            line = await conn.reader.readline()
            if line in (b"\r\n", b"\n"):
                break
            if not line:
                raise ProtocolError("connection closed inside the answer's headers")
            name, _, value = line.decode("latin-1").partition(":")
            key = name.strip().lower()
            value = value.strip()
            head[key] = f"{head[key]},{value}" if key in head else value
        chunked = "chunked" in head.get("transfer-encoding", "").lower()
        length = None if chunked or "content-length" not in head else int(head["content-length"])
        if status in (204, 304) or (100 <= status < 200):
            length = 0
        return Response(status, reason[0] if reason else "", head, conn, self, chunked, length)

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


class _NoAnswer(Exception):
    pass

"""A TCP proxy on loopback that drops WebSocket connections at chosen points of a reply.

It relays bytes both ways to a target port and reads the server's WebSocket frames (after a
``101`` answer) to find where to cut. Each WebSocket connection through it takes the next
:class:`Cut` of its plan (``None``: no cut); HTTP requests pass untouched and take none. A cut is
made just before the server's frame that matches it would reach the client (after
``keep_bytes`` of that frame, to cut inside it), by a reset (``SO_LINGER`` 0, the client reads
``ECONNRESET``) or a clean close (FIN), and the server's side is closed too, as when a network
path dies. Test support only.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from dataclasses import dataclass
from typing import Self

__all__ = ["Cut", "CuttingProxy"]

_OPCODE_TEXT = 0x1
_OPCODE_CONTINUATION = 0x0


@dataclass(frozen=True)
class Cut:
    """Where to drop one connection.

    Attributes:
        match: A fragment of the server frame's payload to cut at (``""``: any frame).
        nth: Cut at the ``nth`` server frame that matches (from 1).
        keep_bytes: Bytes of that frame still sent before the cut (0: cut before it).
        reset: A reset (``True``) or a clean close (``False``).
    """

    match: str = ""
    nth: int = 1
    keep_bytes: int = 0
    reset: bool = True


class CuttingProxy:
    """Relays ``127.0.0.1:<port>`` to ``127.0.0.1:<target_port>``, cutting as ``plan`` says."""

    def __init__(
        self,
        target_port: int,
        plan: list[Cut | None] | None = None,
        *,
        first_in_each_room: Cut | None = None,
    ) -> None:
        """Proxy to ``target_port``; the n-th WebSocket connection gets ``plan[n]``.

        ``first_in_each_room``: past the plan, the first connection to each path (an Agents
        room) gets this cut, and later ones to it none (for many conversations at once).
        """
        self.target_port = target_port
        self.plan = list(plan or [])
        self.first_in_each_room = first_in_each_room
        self._rooms_seen: set[str] = set()
        self.port = 0
        self.websockets = 0  # WebSocket connections seen
        self.cuts_made = 0
        self.request_lines: list[str] = []  # of every connection, in order ("GET /path HTTP/1.1")
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def open_relays(self) -> int:
        """Connections still being relayed (0 once the proxy is closed)."""
        return len(self._tasks)

    @property
    def url(self) -> str:
        """The base URL to give a client."""
        return f"http://127.0.0.1:{self.port}"

    async def __aenter__(self) -> Self:
        """Listen on a free loopback port."""
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def __aexit__(self, *_: object) -> None:
        """Stop listening and end every relay (no task, socket or fd is left)."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        # Closing the sockets ends the relays (cancelling them would upset asyncio's callback).
        for writer in list(self._writers):
            _abort(writer, reset=False)
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5)
        # A relay ends only once its sockets are closed (see _accept), so none is left open.
        assert not self._tasks, f"{len(self._tasks)} relays still running 5 s after the close"

    async def _accept(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(client_w)
        server_w: asyncio.StreamWriter | None = None
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.target_port)
            self._writers.add(server_w)
            first = await client_r.readline()
            line = first.decode("latin-1").strip()
            self.request_lines.append(line)
            server_w.write(first)
            upstream = asyncio.ensure_future(_pump(client_r, server_w))
            try:
                await self._downstream(server_r, client_w, server_w, line)
            finally:
                upstream.cancel()
                with contextlib.suppress(asyncio.CancelledError, OSError, ConnectionError):
                    await upstream
        except (OSError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            # Closing a transport only schedules its socket's close: wait for it, so that the
            # relay's file descriptors are gone by the time its task is (what tests count).
            for writer in (client_w, server_w):
                if writer is not None:
                    _abort(writer, reset=False)
                    with contextlib.suppress(OSError, ConnectionError):
                        await writer.wait_closed()
                    self._writers.discard(writer)
            self._tasks.discard(task)

    async def _downstream(
        self,
        server_r: asyncio.StreamReader,
        client_w: asyncio.StreamWriter,
        server_w: asyncio.StreamWriter,
        request_line: str,
    ) -> None:
        """Relay the server's answer; for a WebSocket, frame by frame, cutting where planned."""
        head = await server_r.readuntil(b"\r\n\r\n")
        client_w.write(head)
        await client_w.drain()
        if not head.startswith(b"HTTP/1.1 101"):
            await _pump(server_r, client_w)
            return
        index = self.websockets
        self.websockets += 1
        cut = self.plan[index] if index < len(self.plan) else None
        room = request_line.split(" ")[1].split("?", maxsplit=1)[0] if " " in request_line else ""
        if cut is None and self.first_in_each_room is not None and room not in self._rooms_seen:
            cut = self.first_in_each_room
        self._rooms_seen.add(room)
        matched = 0
        while True:
            frame, opcode, payload = await _read_frame(server_r)
            text = opcode in (_OPCODE_TEXT, _OPCODE_CONTINUATION)
            if cut is not None and text and cut.match in payload.decode("utf-8", "replace"):
                matched += 1
                if matched == cut.nth:
                    if cut.keep_bytes:
                        client_w.write(frame[: cut.keep_bytes])
                        await client_w.drain()
                    self.cuts_made += 1
                    _abort(client_w, reset=cut.reset)
                    _abort(server_w, reset=False)
                    return
            client_w.write(frame)
            await client_w.drain()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        data = await reader.read(65536)
        if not data:
            with contextlib.suppress(OSError):
                writer.write_eof()
            return
        writer.write(data)
        await writer.drain()


async def _read_frame(reader: asyncio.StreamReader) -> tuple[bytes, int, bytes]:
    """One WebSocket frame from the server: its bytes, opcode and (unmasked) payload."""
    header = await reader.readexactly(2)
    opcode = header[0] & 0x0F
    masked = header[1] & 0x80
    length = header[1] & 0x7F
    extra = b""
    if length == 126:
        extra = await reader.readexactly(2)
        length = struct.unpack("!H", extra)[0]
    elif length == 127:
        extra = await reader.readexactly(8)
        length = struct.unpack("!Q", extra)[0]
    mask = await reader.readexactly(4) if masked else b""
    payload = await reader.readexactly(length)
    plain = bytes(b ^ mask[i % 4] for i, b in enumerate(payload)) if mask else payload
    return header + extra + mask + payload, opcode, plain


def _abort(writer: asyncio.StreamWriter, *, reset: bool) -> None:
    """Close ``writer``'s socket: by a reset, or a clean FIN."""
    if writer.is_closing():
        return
    sock = writer.get_extra_info("socket")
    if reset and sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.transport.abort()
        return
    writer.close()

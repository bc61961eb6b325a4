"""Small images for the tests, made here (no files to keep), and what the echo says of them."""

from __future__ import annotations

import contextlib
import hashlib
import re
import struct
import threading
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client import AiohttpTransport, HttpResponse
from tests.scripted_model import image_report

if TYPE_CHECKING:
    from collections.abc import AsyncIterator
    from typing import Self

    from langchain_cloudflare_playground.client import HttpRequest, WebSocket, WebSocketRequest

__all__ = [
    "VISION_MODEL",
    "ImageHost",
    "ServedImages",
    "gif",
    "images_reported",
    "jpeg",
    "png",
    "reported",
    "webp",
]

# A model the catalog flags vision, in the built-in table and the Agents server's catalog.
VISION_MODEL = "@cf/meta/llama-4-scout-17b-16e-instruct"


def png(width: int = 2, height: int = 2, *, seed: int = 0) -> bytes:
    """A real PNG of ``width`` x ``height`` RGB pixels; ``seed`` changes the pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data))
            + kind
            + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        )

    rows = b"".join(
        b"\x00" + bytes((x * 40 + y * 7 + seed) % 256 for x in range(width * 3))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def jpeg(*, seed: int = 0) -> bytes:
    """Bytes shaped like a JPEG (start marker, a JFIF segment, a comment, end marker)."""
    comment = f"sample {seed}".encode()
    return (
        b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
        b"\xff\xfe" + struct.pack(">H", len(comment) + 2) + comment + b"\xff\xd9"
    )


def gif(*, seed: int = 0) -> bytes:
    """A 1x1 GIF89a whose one colour is ``seed``."""
    colour = bytes((seed % 256, 0, 0))
    return (
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00"
        + colour
        + b"\xff\xff\xff"
        + b"\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02\x44\x01\x00\x3b"
    )


def webp(*, seed: int = 0) -> bytes:
    """A RIFF/WEBP container with one lossless chunk (its contents are not decoded here)."""
    payload = b"\x2f\x00\x00\x00\x00" + bytes((seed % 256,))
    chunk = b"VP8L" + struct.pack("<I", len(payload)) + payload
    body = b"WEBP" + chunk
    return b"RIFF" + struct.pack("<I", len(body)) + body


_IMAGE_LINE = re.compile(r"^image \d+: (.*)$", re.MULTILINE)


def images_reported(echo: str) -> list[str]:
    """What the Agents server's echo says of each image the model got (its ``image N`` lines)."""
    return _IMAGE_LINE.findall(echo)


def reported(data: bytes, media_type: str, user_message: int = 1) -> str:
    """The Agents server's echo line (its value) for ``data`` received in a user message."""
    return image_report(media_type, len(data), hashlib.sha256(data).hexdigest(), user_message)


class ImageHost:
    """A site on loopback that serves images by path, and keeps each request's path and headers.

    ``files`` maps a path to ``(status, content type, body)``::

        with ImageHost({"/cat.png": (200, "image/png", png())}) as host:
            host.url("/cat.png")  # http://127.0.0.1:PORT/cat.png
            host.requests  # [("/cat.png", {"Accept": ..., ...})]
    """

    def __init__(self, files: dict[str, tuple[int, str, bytes]]) -> None:
        """Serve ``files`` once started (``with``)."""
        self.files = files
        self.requests: list[tuple[str, dict[str, str]]] = []
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host.requests.append((self.path, dict(self.headers.items())))
                status, content_type, body = host.files.get(self.path, (404, "text/plain", b"no"))
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        """The absolute URL of ``path``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}{path}"

    def __enter__(self) -> Self:
        """Start serving."""
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


class ServedImages:
    """A transport that answers the GETs of some image URLs itself and passes the rest on.

    For tests that name an image on the internet (LangChain's standard image tests download one
    from GitHub) and must run offline: the client fetches that URL over its transport, and this
    one answers it from ``images`` (URL to PNG bytes); everything else goes to aiohttp.
    """

    def __init__(self, images: dict[str, bytes]) -> None:
        """Answer each URL of ``images`` with its bytes, as ``image/png``."""
        self.images = images
        self.fetched: list[str] = []
        self.inner = AiohttpTransport(timeout=10)

    def stream(self, request: HttpRequest) -> contextlib.AbstractAsyncContextManager[HttpResponse]:
        """A served image, or the request sent on."""
        if request.method == "GET" and request.url in self.images:
            return self._served(request.url)
        return self.inner.stream(request)

    @contextlib.asynccontextmanager
    async def _served(self, url: str) -> AsyncIterator[HttpResponse]:
        self.fetched.append(url)
        body = self.images[url]

        async def chunks() -> AsyncIterator[bytes]:
            yield body

        yield HttpResponse(200, [("Content-Type", "image/png")], chunks())

    async def open_websocket(self, request: WebSocketRequest) -> WebSocket:
        """Sent on."""
        return await self.inner.open_websocket(request)

    async def aclose(self) -> None:
        """Close aiohttp's connections."""
        await self.inner.aclose()

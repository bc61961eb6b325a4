"""What a driver is handed for one try: where the playground is, the transport, the session.

A driver speaks one wire format. It encodes the request, hands bytes or frames to a pure
decoder from ``wire_formats``, and never chooses the transport that carries them: the router
does, once per try, and passes it in a :class:`Route`.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.errors import make_status_error, parse_retry_after
from langchain_cloudflare_playground.client.transports.base import HttpRequest
from langchain_cloudflare_playground.client.wire_formats import LineDecoder

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator

    from langchain_cloudflare_playground.client.sessions import SessionStore
    from langchain_cloudflare_playground.client.transports.base import HttpResponse, Transport

__all__ = ["Route", "iter_line_batches", "iter_lines"]

# Enough of an error body to tell a challenge page from a JSON error; more is never needed.
_ERROR_BODY_LIMIT = 64 * 1024


@dataclass(frozen=True, slots=True)
class Route:
    """How one try reaches the playground.

    Attributes:
        base_url: The playground, without a trailing slash.
        transport: What carries the bytes.
        sessions: The session to send and to update with the cookies the site sets; ``None``
            when the transport sends a session of its own (a browser page).
    """

    base_url: str
    transport: Transport
    sessions: SessionStore | None

    async def headers(self) -> dict[str, str]:
        """The session's headers (its cookies among them) for one request."""
        if self.sessions is None:
            return {}
        return (await self.sessions.get()).request_headers()

    @contextlib.asynccontextmanager
    async def request(
        self, method: str, path: str, *, json_body: object = None, accept: str | None = None
    ) -> AsyncIterator[HttpResponse]:
        """Send one HTTP request with the session; a refusal raises its typed error.

        The one request path of every HTTP call: headers, the cookies the site sets (kept even
        from a refusal, as Cloudflare sets them on a 429 or a challenge), and the status check.
        """
        headers = await self.headers()
        if accept is not None:
            headers["Accept"] = accept
        request = HttpRequest(method, f"{self.base_url}{path}", headers, json_body)
        async with self.transport.stream(request) as response:
            if self.sessions is not None:
                self.sessions.update_cookies(_set_cookies(response))
            if response.status >= 300:  # noqa: PLR2004
                raw = await response.aread(_ERROR_BODY_LIMIT)
                headers_by_name = response.headers
                raise make_status_error(
                    response.status,
                    raw.decode("utf-8", "replace"),
                    {"Content-Type": headers_by_name.get("content-type", "")},
                    retry_after=parse_retry_after(headers_by_name),
                )
            yield response


async def iter_lines(response: HttpResponse) -> AsyncGenerator[str, None]:
    """A response body as lines, decoded as they arrive."""
    async with contextlib.aclosing(iter_line_batches(response)) as batches:
        async for lines in batches:
            for line in lines:
                yield line


async def iter_line_batches(response: HttpResponse) -> AsyncGenerator[list[str], None]:
    """A response body as the lines each read completes (never an empty list)."""
    decoder = LineDecoder()
    chunks = response.iter_bytes()
    try:
        async for chunk in chunks:
            lines = decoder.feed(chunk)
            if lines:
                yield lines
    finally:
        aclose = getattr(chunks, "aclose", None)  # an async generator's: close it now
        if aclose is not None:
            await aclose()
    lines = decoder.finish()
    if lines:
        yield lines


def _set_cookies(response: HttpResponse) -> SimpleCookie:
    cookies = SimpleCookie()
    for value in response.header_values("set-cookie"):
        with contextlib.suppress(CookieError):  # one malformed cookie does not spoil the rest
            cookies.load(value)
    return cookies

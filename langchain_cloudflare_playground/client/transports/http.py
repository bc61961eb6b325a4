"""The HTTP transport: carries the HTTP dialects' bytes over aiohttp and reports failures typed.

It knows nothing of dialects: it sends a JSON body, checks the status, and hands back lines.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

import aiohttp

from langchain_cloudflare_playground.client.codecs import LineDecoder
from langchain_cloudflare_playground.client.errors import (
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundProtocolError,
    PlaygroundTimeoutError,
    make_status_error,
    raise_detached,
)
from langchain_cloudflare_playground.client.retry import parse_retry_after

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Iterator

__all__ = ["check_status", "drain_for_reuse", "iter_lines", "translated_errors"]

# After the end marker only the body's framing is left; this is ample time for it to arrive.
_DRAIN_SECONDS = 0.25
_DRAIN_LIMIT = 64 * 1024
# Enough of an error body to tell a challenge page from a JSON error; more is never needed.
_ERROR_BODY_LIMIT = 64 * 1024


async def check_status(response: aiohttp.ClientResponse) -> None:
    """Raise the typed error for a refused response; return quietly for a 2xx."""
    if response.status < 300:  # noqa: PLR2004
        return
    raw = bytearray()
    # A challenge page may arrive in several reads; its markers can be anywhere in the first few.
    while len(raw) < _ERROR_BODY_LIMIT and (
        chunk := await response.content.read(_ERROR_BODY_LIMIT - len(raw))
    ):
        raw += chunk
    body = raw.decode("utf-8", "replace")
    headers = {k.lower(): v for k, v in response.headers.items()}
    raise make_status_error(
        response.status,
        body,
        {"Content-Type": headers.get("content-type", "")},
        retry_after=parse_retry_after(headers),
    )


_READ_SIZE = 16 * 1024


async def iter_lines(response: aiohttp.ClientResponse) -> AsyncGenerator[str, None]:
    """The response body as lines, decoded as they arrive."""
    decoder = LineDecoder()
    # Bounded reads: a fast server can buffer far more than one read needs, and every line of a
    # read is split at once, so the read size bounds the memory a reply costs in flight.
    async for chunk in response.content.iter_chunked(_READ_SIZE):
        for line in decoder.feed(chunk):
            yield line
    for line in decoder.finish():
        yield line


async def drain_for_reuse(response: aiohttp.ClientResponse) -> None:
    """Read what is left after the end marker, so the connection goes back to the pool.

    aiohttp closes a connection whose body was not read to the end. Waiting is bounded: a server
    that keeps the body open after the end marker costs a new connection, never the caller's time.
    """

    async def drain() -> None:
        drained = 0
        while drained <= _DRAIN_LIMIT and (chunk := await response.content.readany()):
            drained += len(chunk)

    with contextlib.suppress(asyncio.TimeoutError, aiohttp.ClientError):
        await asyncio.wait_for(drain(), _DRAIN_SECONDS)


def total_budget_spent(total: float) -> str:
    """What a call cut by its total budget says."""
    return (
        f"the reply took more than total_timeout={total:g} s"
        " (raise `total_timeout`, or pass None for no limit)"
    )


@contextlib.contextmanager
def translated_errors(timeout: float, total: float | None = None) -> Iterator[None]:
    """Turn aiohttp's and asyncio's failures into the client's typed errors.

    ``total`` is the budget of the whole request, when one applies, so a timeout can say which
    limit it hit.
    """
    started = time.monotonic()
    try:
        yield
    except PlaygroundError:
        raise
    except (asyncio.TimeoutError, aiohttp.ServerTimeoutError) as exc:
        if total is not None and time.monotonic() - started >= total:
            msg = total_budget_spent(total)
        else:
            msg = f"no data from the playground for {timeout:g} s (raise `timeout` to wait longer)"
        raise PlaygroundTimeoutError(msg) from exc
    except aiohttp.ClientProxyConnectionError as exc:
        msg = f"cannot connect to the proxy: {exc}"
        raise PlaygroundConnectionError(msg) from exc
    except aiohttp.ClientPayloadError as exc:
        msg = f"the connection broke during the reply: {exc}"
        raise PlaygroundConnectionError(msg) from exc
    except aiohttp.InvalidURL as exc:
        msg = f"invalid URL {exc}; check base_url (e.g. https://playground.ai.cloudflare.com)"
        raise PlaygroundConnectionError(msg) from exc
    except aiohttp.ClientResponseError as exc:
        # Its request_info holds the request's headers, cookies included: keep it out of the
        # chain that error trackers record.
        msg = f"the playground's response could not be read: {exc.status}, {exc.message}"
        raise_detached(PlaygroundProtocolError(msg))
    except (aiohttp.ClientError, OSError) as exc:
        msg = f"cannot reach the playground: {exc or type(exc).__name__}"
        raise PlaygroundConnectionError(msg) from exc

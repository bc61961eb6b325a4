"""The default transport: HTTP requests and WebSockets over aiohttp.

One aiohttp session per event loop, reused across calls and closed with its loop, so a client
used from several ``asyncio.run`` calls (and from the sync twins' background loop) leaks nothing.
aiohttp's and asyncio's failures become the client's typed errors here, in one place.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import weakref
from dataclasses import dataclass
from types import MethodType
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

import aiohttp

from langchain_cloudflare_playground.client.errors import (
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundProtocolError,
    PlaygroundTimeoutError,
    WebSocketClosedError,
    make_upgrade_error,
    raise_detached,
    refused_handshake,
    untrusted_certificate,
)
from langchain_cloudflare_playground.client.transports.base import HttpResponse
from langchain_cloudflare_playground.client.transports.trust import ssl_context

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator

    from langchain_cloudflare_playground.client.transports.base import (
        HttpRequest,
        WebSocketRequest,
    )

__all__ = ["AiohttpTransport", "AiohttpWebSocket", "total_budget_spent"]

# Bounded reads: a fast server can buffer far more than one read needs, and every line of a read
# is split at once, so the read size bounds the memory a reply costs in flight.
_READ_SIZE = 16 * 1024
# After the end of a reply only the body's framing is left; this is ample time for it to arrive.
_DRAIN_SECONDS = 0.25
_DRAIN_LIMIT = 64 * 1024
# How long a WebSocket close handshake may take. It runs after the reply has reached the caller,
# in the background, so this bounds only how long a silent peer's connection lingers.
_CLOSE_SECONDS = 2.0
# How soon the WebSocket watchdog looks again at a due wait it may not cut yet (aiohttp is
# closing, or a frame has just arrived): either is over within a few turns of the loop.
_RECHECK_SECONDS = 0.01


@dataclass(frozen=True, slots=True)
class _LoopSession:
    """One event loop's aiohttp session, and the generator that closes it with the loop."""

    session: aiohttp.ClientSession
    closer: AsyncGenerator[None, None]


class _SocketsMade:
    """The sockets a session made, so closing it can wait until TLS has let go of them.

    aiohttp closes a TLS connection by starting the TLS shutdown and returning; a loop that ends
    before the shutdown does leaves the socket open (a refused upgrade's ``Connection: close``
    is such a connection). Closing waits, bounded, until each socket is really closed.
    """

    def __init__(self) -> None:
        self._sockets: weakref.WeakSet[socket.socket] = weakref.WeakSet()

    def make(self, address: tuple[Any, ...]) -> socket.socket:
        """Make a socket as aiohttp would (its ``socket_factory``), and remember it."""
        family, kind, proto = address[:3]
        made = socket.socket(family=family, type=kind, proto=proto)
        self._sockets.add(made)
        return made

    async def closed(self, seconds: float) -> None:
        """Wait until every socket made is closed, for at most ``seconds``."""
        deadline = time.monotonic() + seconds
        while any(made.fileno() != -1 for made in self._sockets):
            if time.monotonic() >= deadline:
                return
            await asyncio.sleep(0.01)


class AiohttpTransport:
    """HTTP and WebSockets over aiohttp.

    Args:
        timeout: Seconds allowed for the TCP connect and for every gap between bytes.
        total_timeout: Seconds allowed for one request and its whole reply; ``None`` for no
            limit.
        proxy: An HTTP proxy URL for every request.
        max_connections: The size of the connection pool per event loop.
        verify: Which server certificates to trust (see :mod:`.trust`): ``True`` for the
            system's store or ``$SSL_CERT_FILE``, a PEM file's path, or ``False`` for none.
    """

    def __init__(
        self,
        *,
        timeout: float = 300.0,
        total_timeout: float | None = 1800.0,
        proxy: str | None = None,
        max_connections: int = 100,
        verify: bool | str = True,
    ) -> None:
        """Configure; nothing connects until the first request."""
        self.verify = verify
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.proxy = proxy
        self.max_connections = max_connections
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession] = (
            weakref.WeakKeyDictionary()
        )
        # Sessions for WebSocket upgrades, beneath any vcrpy patch: vcrpy's aiohttp stub would
        # record a bare upgrade and fail to replay it (cassettes record conversations instead).
        self._websocket_by_loop: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, _LoopSession
        ] = weakref.WeakKeyDictionary()

    def __repr__(self) -> str:
        """Settings, with the proxy's password hidden."""
        return (
            f"AiohttpTransport(timeout={self.timeout!r}, total_timeout={self.total_timeout!r},"
            f" proxy={redact_url(self.proxy)!r})"
        )

    @contextlib.asynccontextmanager
    async def stream(self, request: HttpRequest) -> AsyncIterator[HttpResponse]:
        """Send ``request``; the body streams inside the block."""
        started = time.monotonic()
        async with contextlib.AsyncExitStack() as stack:
            with self.translated_errors(started, url=request.url):
                session = await self._session(self._by_loop)
                response = await stack.enter_async_context(
                    session.request(
                        request.method,
                        request.url,
                        json=request.json,
                        headers=dict(request.headers),
                        proxy=self.proxy,
                    )
                )
            yield HttpResponse(
                response.status, list(response.headers.items()), self._body(response, started)
            )
            # Reached only when the caller's block ended cleanly: its reply is complete.
            await _drain_for_reuse(response)

    async def _body(self, response: aiohttp.ClientResponse, started: float) -> AsyncIterator[bytes]:
        with self.translated_errors(started):
            async for chunk in response.content.iter_chunked(_READ_SIZE):
                yield chunk

    async def open_websocket(self, request: WebSocketRequest) -> AiohttpWebSocket:
        """Open the WebSocket; a refused upgrade raises the typed error for its status."""
        # aiohttp upgrades an http(s) URL just the same, and a proxy understands that form (an
        # absolute http URL, or CONNECT for https) where it rejects ws:// outright.
        url = request.url
        request_url = "http" + url.removeprefix("ws") if url.startswith("ws") else url
        with self.translated_errors(url=request_url):
            session = await self._session(self._websocket_by_loop)
            try:
                websocket = await session.ws_connect(
                    request_url,
                    headers=dict(request.headers),
                    proxy=self.proxy,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=_CLOSE_SECONDS),
                    # A ping must reach AiohttpWebSocket.receive, which answers it: it is a
                    # frame from the server, so the idle timeout starts again (see there).
                    autoping=False,
                    max_msg_size=0,  # a long reply can come as one large frame
                )
            except aiohttp.WSServerHandshakeError as exc:
                # Not chained: the handshake error's request_info holds the session's cookies.
                headers = {k.lower(): v for k, v in (exc.headers or {}).items()}
                raise_detached(make_upgrade_error(exc.status, headers))
        return AiohttpWebSocket(websocket, self)

    async def aclose(self) -> None:
        """Close the running loop's sessions."""
        loop = asyncio.get_running_loop()
        for registry in (self._by_loop, self._websocket_by_loop):
            entry = registry.pop(loop, None)
            if entry is not None:
                await entry.closer.aclose()

    async def _session(
        self, registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession]
    ) -> aiohttp.ClientSession:
        """The running loop's session from ``registry``, created on first use."""
        loop = asyncio.get_running_loop()
        _forget_closed_loops(registry)
        entry = registry.get(loop)
        if entry is not None and not entry.session.closed:
            return entry.session
        sockets = _SocketsMade()
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=self.max_connections,
                ssl=ssl_context(verify=self.verify),
                socket_factory=sockets.make,
            ),
            timeout=aiohttp.ClientTimeout(
                # Waiting for a free pooled connection is not the server's silence: the TCP
                # connect and the gaps between bytes are bounded, and the whole request by the
                # total budget alone.
                total=self.total_timeout,
                connect=None,
                sock_connect=self.timeout,
                sock_read=self.timeout,
            ),
            # Cookies live in the session store, the one place that persists them.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        if registry is self._websocket_by_loop:
            object.__setattr__(session, "_request", MethodType(_aiohttp_request(), session))
        closer = _close_when_the_loop_ends(session, sockets, registry, weakref.ref(loop))
        entry = _LoopSession(session, closer)
        registry[loop] = entry
        await anext(entry.closer)
        return session

    @contextlib.contextmanager
    def translated_errors(
        self, started: float | None = None, *, url: str | None = None
    ) -> Iterator[None]:
        """Turn aiohttp's and asyncio's failures into the client's typed errors.

        ``started`` is when the request began, so a timeout can say which limit it hit;
        ``url``, what it was sent to, so a failed connection can say where it was going.
        """
        started = time.monotonic() if started is None else started
        try:
            yield
        except PlaygroundError:
            raise
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            total = self.total_timeout
            if total is not None and time.monotonic() - started >= total:
                msg = total_budget_spent(total)
            else:
                msg = (
                    f"no data from the playground for {self.timeout:g} s"
                    " (raise `timeout` to wait longer)"
                )
            raise PlaygroundTimeoutError(msg) from exc
        except aiohttp.ClientSSLError as exc:
            raise _tls_error(exc) from exc
        except aiohttp.ClientConnectorError as exc:  # to the playground or to the proxy
            raise self._connect_error(exc, url) from exc
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

    def _connect_error(
        self, error: aiohttp.ClientConnectorError, url: str | None
    ) -> PlaygroundConnectionError:
        """A connection that could not be made, in our words: where to, and the OS's reason.

        aiohttp's own ("Cannot connect to host h:p ssl:default [...]") names an SSL setting
        even for a plain http:// URL.
        """
        reason = _os_reason(error)
        if isinstance(error, aiohttp.ClientProxyConnectionError):
            return PlaygroundConnectionError(
                f"cannot connect to the proxy {redact_url(self.proxy)}: {reason}"
            )
        where = _origin(url) if url else f"{error.host}:{error.port}"
        return PlaygroundConnectionError(f"cannot reach the playground at {where}: {reason}")


class AiohttpWebSocket:
    """An open aiohttp WebSocket: each wait bounded by the timeout, all by the total budget.

    Any frame from the server (a ping or pong too) ends a wait, and the next wait starts afresh:
    the idle timeout is the server's silence, never a long reply. aiohttp's autoping is off
    (see ``open_websocket``) so that a ping reaches ``receive``, which answers it and waits anew.

    Why a watchdog: a timer per wait (``receive(timeout=...)``, ``asyncio.timeout``) made and
    cancelled for every frame cost about as much CPU as reading the frame. Instead one timer
    per socket stays armed: each real wait only notes when it is due, and the timer, when it
    fires, cuts a wait that is due by cancelling the waiting task, as ``asyncio.timeout`` would;
    otherwise it re-arms for the wait's due time, or lets the next wait arm it again. It cuts
    only while aiohttp waits for the reader, the one place ``receive(timeout=...)`` bounded, so a
    cancel never lands in aiohttp's own close handling and a frame that arrived is never lost.
    """

    def __init__(
        self, websocket: aiohttp.ClientWebSocketResponse[bool], transport: AiohttpTransport
    ) -> None:
        """Wrap an open ``websocket`` with ``transport``'s limits."""
        self._websocket = websocket
        self._transport = transport
        self._started = time.monotonic()
        total = transport.total_timeout
        self._deadline = None if total is None else self._started + total
        # The watchdog needs aiohttp's flag for "waiting for the reader" (a bool since aiohttp
        # 3.10); an aiohttp whose flag is gone or of another shape keeps a timer per wait.
        self._watchable = isinstance(getattr(websocket, "_waiting", None), bool)
        self._watchdog: asyncio.TimerHandle | None = None
        self._watchdog_when = 0.0  # when it fires (time.monotonic())
        self._waiter: asyncio.Task[Any] | None = None  # the task in a watched wait, if any
        self._wait_due = 0.0  # when that wait is cut (time.monotonic())
        self._cut = False  # the watchdog cancelled the waiter
        self._cancelling = 0  # the waiter's pending cancels when its wait began

    async def send(self, frame: str) -> None:
        """Send one text frame."""
        with self._transport.translated_errors():
            await self._websocket.send_str(frame)

    async def receive(self) -> str:
        """The next text frame; a ping is answered, and it or a pong starts a fresh wait."""
        transport = self._transport
        websocket = self._websocket
        while True:
            now = time.monotonic()
            wait = transport.timeout
            if self._deadline is not None:
                wait = min(wait, self._deadline - now)
            if wait <= 0:
                raise PlaygroundTimeoutError(total_budget_spent(transport.total_timeout or 0))
            try:
                # A frame already read needs no timer; a real wait is watched (see the class).
                message = await websocket.receive(
                    timeout=None if _frame_ready(websocket) else self._watch(now + wait)
                )
            except BaseException as exc:
                with transport.translated_errors(self._started):
                    if self._cut_it(exc):
                        raise TimeoutError from None
                    raise
            finally:
                self._waiter = None
            kind = message.type
            if kind is aiohttp.WSMsgType.TEXT:
                return str(message.data)
            if kind is aiohttp.WSMsgType.PING:
                with transport.translated_errors():
                    await websocket.pong(message.data)
                continue
            if kind is not aiohttp.WSMsgType.PONG:
                # Text frames are decoded (the socket's decode_text is left on): a WSMessage.
                return self._other_frame(cast("aiohttp.WSMessage", message))

    def _other_frame(self, message: aiohttp.WSMessage) -> str:
        """A binary frame's text; the error that an error, a close or a closed socket means."""
        kind, data = message.type, message.data
        if kind is aiohttp.WSMsgType.BINARY:
            try:
                return bytes(data).decode("utf-8")
            except UnicodeDecodeError as exc:
                msg = "the playground sent a binary frame that is not UTF-8 text"
                raise PlaygroundProtocolError(msg) from exc
        if kind is aiohttp.WSMsgType.ERROR:
            msg = f"the WebSocket connection failed: {data}"
            raise PlaygroundConnectionError(msg)
        code = self._websocket.close_code
        msg = f"the playground closed the WebSocket (code {code}) before the reply was complete"
        raise WebSocketClosedError(msg, code)

    def _watch(self, due: float) -> float | None:
        """Have the watchdog cut the coming wait at ``due`` (``time.monotonic()``).

        Returns the timeout aiohttp must keep itself instead, if the watchdog cannot: with an
        aiohttp whose state is not the one known, or outside a task (which has nothing to cancel;
        aiohttp's own timeout refuses there, as ``asyncio.timeout`` does).
        """
        task = asyncio.current_task()
        if not self._watchable or task is None:
            return _aiohttp_timeout(due)
        self._wait_due = due
        self._waiter = task
        self._cut = False
        self._cancelling = task.cancelling()
        # Armed already for this due time or sooner (waits' due times only grow, unless the
        # transport's timeout was lowered meanwhile): the common case costs nothing more.
        if self._watchdog is None or self._watchdog_when > due:
            if self._watchdog is not None:
                self._watchdog.cancel()
            self._arm(due)
        return None

    def _arm(self, when: float) -> None:
        self._watchdog_when = when
        self._watchdog = asyncio.get_running_loop().call_later(when - time.monotonic(), self._check)

    def _cut_it(self, exc: BaseException) -> bool:
        """Whether the watched wait ended by the watchdog's cancel and no one else's.

        As ``asyncio.timeout`` does: its own cancel is taken back whatever the wait ended with,
        and it was the only one if no cancel is left beyond those pending when the wait began.
        """
        if not self._cut or self._waiter is None:
            return False
        left = self._waiter.uncancel()
        return isinstance(exc, asyncio.CancelledError) and left <= self._cancelling

    def _check(self) -> None:
        """The watchdog: cut a wait that is due, re-arm for one that is not yet."""
        self._watchdog = None
        waiter = self._waiter
        if waiter is None:
            return  # no wait now: the next one arms the watchdog again
        now = time.monotonic()
        if self._wait_due > now:
            self._arm(self._wait_due)
        elif not _waiting_for_the_reader(self._websocket):
            # Something arrived and the waiter is about to take it, or aiohttp is closing:
            # neither is the server's silence. Look again once that is over.
            self._arm(now + _RECHECK_SECONDS)
        else:
            self._cut = True
            waiter.cancel()

    def conversation_ended(self) -> None:
        """Nothing to do: a live socket keeps nothing."""

    async def close(self) -> None:
        """Close; a peer that does not answer the close handshake costs at most a few seconds."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        with contextlib.suppress(aiohttp.ClientError, OSError, TimeoutError):
            await self._websocket.close(code=aiohttp.WSCloseCode.OK)


def total_budget_spent(total: float) -> str:
    """What a call cut by its total budget says."""
    return (
        f"the reply took more than total_timeout={total:g} s"
        " (raise `total_timeout`, or pass None for no limit)"
    )


def _aiohttp_timeout(due: float) -> float:
    """Seconds left until ``due``, never 0: aiohttp reads a timeout of 0 as no timeout."""
    return max(due - time.monotonic(), 1e-6)


def _frame_ready(websocket: aiohttp.ClientWebSocketResponse[bool]) -> bool:
    """Whether a frame waits in aiohttp's queue, so that ``receive`` takes it without waiting.

    Read from aiohttp's private queue; when its shape is not the one known, the answer is no,
    and the wait is bounded as any other.
    """
    buffer = getattr(getattr(websocket, "_reader", None), "_buffer", None)
    try:
        return bool(buffer)
    except TypeError:
        return False


def _waiting_for_the_reader(websocket: aiohttp.ClientWebSocketResponse[bool]) -> bool:
    """Whether aiohttp's ``receive`` waits for a frame that has not arrived.

    Its ``_waiting`` flag is up only around the reader's wait (the span its own ``timeout``
    bounds); a frame in the queue or the end of the stream means the wait is over, though the
    waiting task has not run yet. ``_watch`` is used only where the flag exists.
    """
    if getattr(websocket, "_waiting", False) is not True or _frame_ready(websocket):
        return False
    is_eof = getattr(getattr(websocket, "_reader", None), "is_eof", None)
    return not (callable(is_eof) and is_eof())


def redact_url(url: str | None) -> str | None:
    """A proxy URL without its password."""
    if url is None or "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"


def _origin(url: str) -> str:
    """``scheme://host:port`` of ``url``, the port spelt out (what a connection goes to)."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    host = f"[{parts.hostname}]" if parts.hostname and ":" in parts.hostname else parts.hostname
    return f"{parts.scheme}://{host}:{port}"


def _os_reason(error: aiohttp.ClientConnectorError) -> str:
    """Why a connection could not be made, as the OS said it ("connection refused")."""
    cause = error.os_error
    if isinstance(cause, socket.gaierror):
        return f"{error.host} does not resolve ({cause.strerror or cause})"
    if cause.errno:  # asyncio's own wording ("Connect call failed ('127.0.0.1', 9)") says less
        return os.strerror(cause.errno).lower()
    return str(cause) or type(cause).__name__


def _tls_error(error: aiohttp.ClientSSLError) -> PlaygroundError:
    """What a failed TLS handshake means: an untrusted certificate, a refusal, or a failure."""
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        return untrusted_certificate(error.certificate_error)
    cause = getattr(error, "os_error", error)
    if "ALERT" in str(getattr(cause, "reason", "")):  # the server ended the handshake: a "no"
        return refused_handshake(cause)
    return PlaygroundConnectionError(f"the TLS connection to the playground failed: {cause}")


async def _drain_for_reuse(response: aiohttp.ClientResponse) -> None:
    """Read what is left of a body, so the connection goes back to the pool.

    aiohttp closes a connection whose body was not read to the end. Waiting is bounded: a server
    that keeps the body open after the end marker costs a new connection, never the caller's time.
    """

    async def drain() -> None:
        drained = 0
        while drained <= _DRAIN_LIMIT and (chunk := await response.content.readany()):
            drained += len(chunk)

    with contextlib.suppress(TimeoutError, aiohttp.ClientError):
        await asyncio.wait_for(drain(), _DRAIN_SECONDS)


def _aiohttp_request() -> Callable[..., Any]:
    """Aiohttp's own ``ClientSession._request``, beneath any patches (``functools.wraps`` ones)."""
    request: Any = aiohttp.ClientSession._request  # noqa: SLF001
    while hasattr(request, "__wrapped__"):
        request = request.__wrapped__
    return request  # type: ignore[no-any-return]


def _forget_closed_loops(
    registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession],
) -> None:
    """Drop sessions whose loop was closed without finalising them (``loop.close()`` alone).

    Their sockets went with the loop; detaching marks the session closed, so nothing warns.
    """
    for ended in [loop for loop in registry if loop.is_closed()]:
        registry.pop(ended).session.detach()


async def _close_when_the_loop_ends(
    session: aiohttp.ClientSession,
    sockets: _SocketsMade,
    registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession],
    loop: weakref.ref[asyncio.AbstractEventLoop],
) -> AsyncGenerator[None, None]:
    """Close ``session`` when its loop shuts down, even if the caller never closed the client.

    ``asyncio.run`` (and the sync twins' background loop) finalise every live async generator
    before closing the loop, so this ``finally`` runs inside the loop while it can still close
    sockets. The loop is held weakly, so a loop closed without that step can still be collected.
    """
    try:
        yield
    finally:
        ended = loop()
        if ended is not None:
            registry.pop(ended, None)
        await session.close()
        await sockets.closed(_CLOSE_SECONDS)

"""A transport that looks like Chrome down to its TLS handshake: curl_cffi (extra ``impersonate``).

Cloudflare tells a script from a browser by its TLS ClientHello and HTTP/2 settings before any
header is read; aiohttp's OpenSSL handshake is refused where Chrome's BoringSSL one is let
through. curl_cffi drives curl-impersonate, which makes Chrome's handshake, so this transport
carries the same requests as the aiohttp one with a browser's fingerprint::

    client = PlaygroundClient(transport="impersonate")  # or ImpersonatingTransport()

Its guarantees are the aiohttp transport's: ``timeout`` bounds the connect and every gap between
bytes, ``total_timeout`` the whole reply; one curl session per event loop, closed with its loop;
failures become the client's typed errors in one place (:meth:`translated_errors`), raised with
no chain, since curl_cffi's errors hold the request and its ``Cookie`` header. Cookies live in
the client's session store: curl keeps none, and every ``Set-Cookie`` comes back in the
response's headers.

The user agent and client hints sent are those of the Chrome whose handshake is made, whatever
the session says: a Chrome 152 handshake under another version's user agent is itself a bot
signal. (A ``cf_clearance`` cookie is bound to the user agent that earned it, so a browser
session's cookie may not pass under this one.)
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
import ssl
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, TypeVar

from langchain_cloudflare_playground.client.errors import (
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundProtocolError,
    PlaygroundTimeoutError,
    WebSocketClosedError,
    make_upgrade_error,
    raise_detached,
    untrusted_certificate,
)
from langchain_cloudflare_playground.client.extras import require_extra
from langchain_cloudflare_playground.client.transports.aiohttp_transport import (
    redact_url,
    total_budget_spent,
)
from langchain_cloudflare_playground.client.transports.base import HttpResponse
from langchain_cloudflare_playground.client.transports.trust import ca_bundle

require_extra("curl_cffi", extra="impersonate", needed_by="The impersonating transport")

from curl_cffi import CurlError, CurlHttpVersion, CurlOpt  # noqa: E402
from curl_cffi.const import CurlECode, CurlWsFlag  # noqa: E402
from curl_cffi.requests import AsyncSession, Response  # noqa: E402
from curl_cffi.requests.exceptions import (  # noqa: E402
    CertificateVerifyError,
    InvalidURL,
    ProxyError,
    Timeout,
)
from curl_cffi.requests.websockets import AsyncWebSocket, WebSocketClosed  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Coroutine, Iterator, Mapping

    from curl_cffi import Curl

    from langchain_cloudflare_playground.client.transports.base import (
        HttpRequest,
        WebSocketRequest,
    )

__all__ = ["CHROME_IDENTITIES", "DEFAULT_IMPERSONATE", "ChromeIdentity", "ImpersonatingTransport"]


@dataclass(frozen=True, slots=True)
class ChromeIdentity:
    """What a Chrome says of itself in headers, to go with its handshake.

    Attributes:
        user_agent: The ``User-Agent`` header.
        client_hints: ``sec-ch-ua``, ``sec-ch-ua-mobile`` and ``sec-ch-ua-platform``.
    """

    user_agent: str
    client_hints: Mapping[str, str]


def _chrome(major: int, platform: str, brands: str) -> ChromeIdentity:
    system = {
        "Windows": "Windows NT 10.0; Win64; x64",
        "macOS": "Macintosh; Intel Mac OS X 10_15_7",
    }[platform]
    return ChromeIdentity(
        user_agent=(
            f"Mozilla/5.0 ({system}) AppleWebKit/537.36 (KHTML, like Gecko)"
            f" Chrome/{major}.0.0.0 Safari/537.36"
        ),
        client_hints=MappingProxyType(
            {"sec-ch-ua": brands, "sec-ch-ua-mobile": "?0", "sec-ch-ua-platform": f'"{platform}"'}
        ),
    )


# The headers curl-impersonate itself sends for each target (with default headers on), so that
# ours say exactly what its handshake says. A test compares them with what curl_cffi sends.
CHROME_IDENTITIES: Mapping[str, ChromeIdentity] = MappingProxyType(
    {
        "chrome146": _chrome(
            146, "macOS", '"Chromium";v="146", "Not-A.Brand";v="24", "Google Chrome";v="146"'
        ),
        "chrome150": _chrome(
            150, "macOS", '"Not;A=Brand";v="8", "Chromium";v="150", "Google Chrome";v="150"'
        ),
        "chrome151": _chrome(
            151, "Windows", '"Not=A?Brand";v="99", "Google Chrome";v="151", "Chromium";v="151"'
        ),
        "chrome152": _chrome(
            152, "Windows", '"Chromium";v="152", "Not?A_Brand";v="24", "Google Chrome";v="152"'
        ),
    }
)
# Pinned, not curl_cffi's moving "chrome" alias: what goes on the wire changes only with us.
DEFAULT_IMPERSONATE = "chrome152"

# What Chrome accepts; curl decodes what it asks for.
_ACCEPT_ENCODING = "gzip, deflate, br, zstd"
# Headers this transport sets itself, whatever the request carries.
_REPLACED = ("user-agent", "sec-ch-ua", "accept-encoding")
_CLOSE_SECONDS = 2.0
_T = TypeVar("_T")

# The curl handles taken by the requests of the current task, so that a request abandoned before
# its response arrived can be stopped: curl_cffi would otherwise carry it on in the background.
_TAKEN: contextvars.ContextVar[list[Curl] | None] = contextvars.ContextVar(
    "impersonating_transport_taken", default=None
)


class _Session(AsyncSession[Response]):
    """curl_cffi's session, telling the transport which curl handles a request holds.

    A request holds a handle from taking it out of the pool until curl_cffi puts it back, and
    only then may the transport stop its transfer: once back, the handle may be another
    request's, whose transfer that would end before it began.
    """

    async def pop_curl(self) -> Curl:
        """A handle from the pool, noted as held by the request that took it."""
        curl = await super().pop_curl()
        taken = _TAKEN.get()
        if taken is not None:
            taken.append(curl)
        return curl

    def release_curl(self, curl: Curl) -> None:
        """Back to the pool, and no longer held by the request that took it."""
        taken = _TAKEN.get()
        if taken is not None and curl in taken:
            taken.remove(curl)
        super().release_curl(curl)


@dataclass(frozen=True, slots=True)
class _LoopSession:
    session: _Session
    closer: AsyncGenerator[None, None]


class ImpersonatingTransport:
    """HTTP and WebSockets over curl_cffi, with a pinned Chrome's TLS and HTTP/2 fingerprint.

    Args:
        timeout: Seconds allowed for the connect and first byte, and for every gap between
            bytes.
        total_timeout: Seconds allowed for one request and its whole reply; ``None`` for no
            limit.
        proxy: An HTTP proxy URL for every request (``https://`` and ``wss://`` go through it
            by ``CONNECT``, so the handshake the site sees is still Chrome's).
        max_connections: The number of requests and WebSockets open at once per event loop.
        verify: Which server certificates to trust (see :mod:`.trust`): ``True`` for the
            system's store or ``$SSL_CERT_FILE``, a PEM file's path, or ``False`` for none.
        impersonate: The Chrome to look like, one of :data:`CHROME_IDENTITIES`.

    Attributes:
        user_agent: The ``User-Agent`` every request carries.
        client_hints: The ``sec-ch-ua*`` headers every request carries.
    """

    def __init__(  # noqa: PLR0913 (keyword-only settings)
        self,
        *,
        timeout: float = 300.0,
        total_timeout: float | None = 1800.0,
        proxy: str | None = None,
        max_connections: int = 100,
        verify: bool | str = True,
        impersonate: str = DEFAULT_IMPERSONATE,
    ) -> None:
        """Configure; nothing connects until the first request."""
        identity = CHROME_IDENTITIES.get(impersonate)
        if identity is None:
            msg = f"impersonate must be one of {', '.join(CHROME_IDENTITIES)}, not {impersonate!r}"
            raise ValueError(msg)
        self.timeout = timeout
        self.total_timeout = total_timeout
        self.proxy = proxy
        self.max_connections = max_connections
        self.verify = verify
        self.impersonate = impersonate
        self.user_agent = identity.user_agent
        self.client_hints = identity.client_hints
        self._by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession] = (
            weakref.WeakKeyDictionary()
        )

    def __repr__(self) -> str:
        """Settings, with the proxy's password hidden."""
        return (
            f"ImpersonatingTransport(impersonate={self.impersonate!r}, timeout={self.timeout!r},"
            f" total_timeout={self.total_timeout!r}, proxy={redact_url(self.proxy)!r})"
        )

    def headers_for(self, headers: Mapping[str, str]) -> dict[str, str]:
        """``headers`` with this Chrome's user agent and client hints in place of any given."""
        kept = {
            name: value
            for name, value in headers.items()
            if not name.lower().startswith(_REPLACED) and name.lower() != "host"
        }
        return {**self.client_hints, "User-Agent": self.user_agent, **kept}

    # -- HTTP ----------------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def stream(self, request: HttpRequest) -> AsyncIterator[HttpResponse]:
        """Send ``request``; the body streams inside the block."""
        started = time.monotonic()
        session = await self._session()
        taken: list[Curl] = []
        token = _TAKEN.set(taken)
        try:
            with self.translated_errors(started):
                response: Response = await self._wait(
                    session.request(
                        request.method,  # type: ignore[arg-type]
                        request.url,
                        headers=self.headers_for(request.headers),
                        json=request.json,  # type: ignore[arg-type]
                        accept_encoding=_ACCEPT_ENCODING,
                        stream=True,
                    ),
                    started,
                )
        except BaseException:
            # Cancelled or timed out before the headers: stop the transfer curl_cffi would
            # otherwise finish in the background (if its handle is still this request's).
            for curl in list(taken):  # noqa: PERF101 (a copy: giving one back changes the list)
                _abort(session, curl)
            raise
        finally:
            _TAKEN.reset(token)
        headers = [(name, value or "") for name, value in response.headers.multi_items()]
        body = _Body(response, self, started, taken)
        try:
            yield HttpResponse(response.status_code, headers, body.chunks())
        finally:
            await body.close(session)

    async def _wait(self, pending: Coroutine[Any, Any, _T], started: float) -> _T:
        """Await ``pending`` for at most ``timeout``, and never past the total budget.

        Not ``asyncio.wait_for``: before Python 3.12 it can swallow a cancellation that comes
        as ``pending`` finishes, and a cancelled call would then read on.
        """
        wait = self.timeout
        if self.total_timeout is not None:
            wait = min(wait, self.total_timeout - (time.monotonic() - started))
        if wait <= 0:
            pending.close()
            raise PlaygroundTimeoutError(total_budget_spent(self.total_timeout or 0))
        task = asyncio.ensure_future(pending)
        try:
            done, _ = await asyncio.wait({task}, timeout=wait)
        finally:
            task.cancel()  # cancelled or timed out: the caller stops what it started
        if not done:
            raise TimeoutError
        return task.result()

    # -- WebSockets ----------------------------------------------------------------------------

    async def open_websocket(self, request: WebSocketRequest) -> ImpersonatingWebSocket:
        """Open the WebSocket; a refused upgrade raises the typed error for its status."""
        session = await self._session()
        heads = _ResponseHeads()
        options: dict[CurlOpt, Any] = {
            CurlOpt.HEADERFUNCTION: heads.feed,
            # curl runs the handshake in a worker thread that cannot be interrupted, and its
            # timeout does not cover a server that accepts and never answers the upgrade: the
            # thread (and the loop's shutdown, which joins it) would wait forever. A transfer
            # slower than a byte a second for `timeout` seconds ends it instead (whole seconds:
            # curl's unit).
            CurlOpt.LOW_SPEED_LIMIT: 1,
            CurlOpt.LOW_SPEED_TIME: max(1, math.ceil(self.timeout)),
        }
        if self.proxy:  # curl tunnels https through a proxy by itself, but wss must be told to
            options[CurlOpt.HTTPPROXYTUNNEL] = 1
        with self.translated_errors():
            try:
                websocket = await session.ws_connect(
                    request.url,
                    headers=self.headers_for(request.headers),
                    timeout=self.timeout,
                    accept_encoding=_ACCEPT_ENCODING,
                    max_message_size=64 * 1024 * 1024,  # a long reply can be one frame
                    curl_options=options,
                )
            except CurlError as exc:
                # curl says only "Refused WebSocket upgrade: 403"; the headers came to ``heads``.
                if exc.code != CurlECode.HTTP_RETURNED_ERROR or heads.status is None:
                    raise
                raise_detached(make_upgrade_error(heads.status, heads.headers))
        return ImpersonatingWebSocket(websocket, self)

    # -- sessions ------------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close the running loop's session."""
        entry = self._by_loop.pop(asyncio.get_running_loop(), None)
        if entry is not None:
            await entry.closer.aclose()

    async def _session(self) -> _Session:
        """The running loop's session, created on first use."""
        loop = asyncio.get_running_loop()
        for ended in [known for known in self._by_loop if known.is_closed()]:
            del self._by_loop[ended]  # its sockets went with the loop
        entry = self._by_loop.get(loop)
        if entry is not None:
            return entry.session
        session = _Session(
            impersonate=self.impersonate,
            # Chrome's navigation headers are wrong for an API call; the session's are right.
            default_headers=False,
            # Cookies live in the session store, the one place that persists them.
            discard_cookies=True,
            proxy=self.proxy,
            trust_env=False,  # as aiohttp: the proxy is the one given, not the environment's
            verify=_curl_verify(verify=self.verify),  # type: ignore[arg-type]
            timeout=None,  # type: ignore[arg-type]  # bounded here between bytes, as curl cannot
            max_clients=self.max_connections,
            http_version=CurlHttpVersion.V2TLS,  # h2 over TLS as Chrome, never h2c
            curl_options={CurlOpt.CONNECTTIMEOUT_MS: max(1, int(self.timeout * 1000))},
        )
        closer = _close_when_the_loop_ends(session, self._by_loop, weakref.ref(loop))
        self._by_loop[loop] = _LoopSession(session, closer)
        await anext(closer)
        return session

    # -- errors --------------------------------------------------------------------------------

    @contextlib.contextmanager
    def translated_errors(self, started: float | None = None) -> Iterator[None]:
        """Turn curl_cffi's and asyncio's failures into the client's typed errors.

        Raised with no chain: curl_cffi's errors keep the request (``.response.request``) and
        with it the ``Cookie`` header. ``started`` is when the request began, so a timeout can
        say which limit it hit.
        """
        started = time.monotonic() if started is None else started
        try:
            yield
        except PlaygroundError:
            raise
        except (TimeoutError, Timeout) as exc:
            total = self.total_timeout
            if total is not None and time.monotonic() - started >= total:
                msg = total_budget_spent(total)
            elif isinstance(exc, Timeout) and exc.code == CurlECode.OPERATION_TIMEDOUT:
                msg = f"cannot connect within timeout={self.timeout:g} s: {self._detail(exc)}"
            else:
                msg = (
                    f"no data from the playground for {self.timeout:g} s"
                    " (raise `timeout` to wait longer)"
                )
            raise_detached(PlaygroundTimeoutError(msg))
        except CertificateVerifyError as exc:
            raise_detached(untrusted_certificate(self._detail(exc)))
        except InvalidURL as exc:
            msg = (
                f"invalid URL ({self._detail(exc)}); check base_url"
                " (e.g. https://playground.ai.cloudflare.com)"
            )
            raise_detached(PlaygroundConnectionError(msg))
        except (CurlError, OSError) as exc:
            code = getattr(exc, "code", None)
            if code == CurlECode.OPERATION_TIMEDOUT:  # the handshake's low-speed limit
                msg = (
                    f"no answer from the playground for {self.timeout:g} s"
                    " (raise `timeout` to wait longer)"
                )
                raise_detached(PlaygroundTimeoutError(msg))
            if self.proxy and (
                isinstance(exc, ProxyError) or code in (CurlECode.COULDNT_CONNECT, CurlECode.PROXY)
            ):
                msg = f"cannot connect to the proxy: {self._detail(exc)}"
            else:
                msg = f"cannot reach the playground: {self._detail(exc)}"
            raise_detached(PlaygroundConnectionError(msg))

    def _detail(self, error: BaseException) -> str:
        """Curl's words for ``error``, without its boilerplate or the proxy's password."""
        text = str(error).split(". See https://curl.se/", 1)[0] or type(error).__name__
        text = text.removeprefix("Failed to perform, ")
        if self.proxy and "@" in self.proxy:
            secret = self.proxy.partition("://")[2].rpartition("@")[0]
            if secret:
                text = text.replace(secret, "***")
        return text


class _Body:
    """A streamed body: each read bounded by the timeout, all by the total budget."""

    def __init__(
        self,
        response: Response,
        transport: ImpersonatingTransport,
        started: float,
        held: list[Curl],
    ) -> None:
        self._response = response
        self._transport = transport
        self._started = started
        self._held = held  # the handle, until curl_cffi puts it back in the pool
        self._ended = False

    async def chunks(self) -> AsyncIterator[bytes]:
        queue = self._response.queue
        if queue is None:
            msg = "curl_cffi returned a response that does not stream"
            raise PlaygroundProtocolError(msg)
        transport = self._transport
        deadline = (
            None if transport.total_timeout is None else self._started + transport.total_timeout
        )
        while True:
            with transport.translated_errors(self._started):
                if queue.empty() or (deadline is not None and time.monotonic() >= deadline):
                    item = await transport._wait(queue.get(), self._started)  # noqa: SLF001
                else:
                    # curl hands over each write of the server as an item of its own: what has
                    # already arrived is taken without a task and a timer per item.
                    item = queue.get_nowait()
                if isinstance(item, BaseException):
                    self._ended = True
                    raise item
            if isinstance(item, bytes):
                yield item
                continue
            self._ended = True  # curl_cffi's end-of-stream marker
            return

    async def close(self, session: _Session) -> None:
        """Stop a transfer not read to its end (curl_cffi would wait for all of it) and wait."""
        response = self._response
        task = response.astream_task
        if not self._ended:
            # Only a handle still held: one back in the pool may carry another request now.
            for curl in list(self._held):
                _abort(session, curl)
        if isinstance(task, asyncio.Future) and not task.done():
            await asyncio.wait([task], timeout=_CLOSE_SECONDS)


class ImpersonatingWebSocket:
    """An open curl_cffi WebSocket: each wait bounded by the timeout, all by the total budget."""

    def __init__(self, websocket: AsyncWebSocket, transport: ImpersonatingTransport) -> None:
        """Wrap an open ``websocket`` with ``transport``'s limits."""
        self._websocket = websocket
        self._transport = transport
        self._started = time.monotonic()

    async def send(self, frame: str) -> None:
        """Send one text frame."""
        with self._transport.translated_errors():
            await self._websocket.send_str(frame)

    async def receive(self) -> str:
        """The next text frame."""
        transport = self._transport
        try:
            with transport.translated_errors(self._started):
                data, flags = await transport._wait(self._websocket.recv(), self._started)  # noqa: SLF001
        except PlaygroundConnectionError as exc:
            if not isinstance(exc.__context__, WebSocketClosed):
                raise
            data, flags = b"", CurlWsFlag.CLOSE
        if flags & CurlWsFlag.CLOSE:
            code = self._websocket.close_code
            msg = f"the playground closed the WebSocket (code {code}) before the reply was complete"
            raise WebSocketClosedError(msg, code)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            msg = "the playground sent a binary frame that is not UTF-8 text"
            raise PlaygroundProtocolError(msg) from exc

    def conversation_ended(self) -> None:
        """Nothing to do: a live socket keeps nothing."""

    async def close(self) -> None:
        """Close; a peer that does not answer the close handshake costs at most a few seconds."""
        with contextlib.suppress(CurlError, OSError, TimeoutError):
            await self._websocket.close(timeout=_CLOSE_SECONDS)
        self._websocket.terminate()


def _abort(session: _Session, curl: Curl) -> None:
    """Stop ``curl``'s transfer now; curl closes its connection, which cannot be reused."""
    with contextlib.suppress(CurlError):
        session.acurl.remove_handle(curl)


class _ResponseHeads:
    """The status and headers of the last response head curl read (a proxy's come first)."""

    def __init__(self) -> None:
        self.status: int | None = None
        self.headers: dict[str, str] = {}

    def feed(self, line: bytes) -> int:
        text = line.decode("latin-1").strip()
        if text.startswith("HTTP/"):
            parts = text.split()
            self.status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else None
            self.headers = {}
        else:
            name, sep, value = text.partition(":")
            if sep:
                self.headers.setdefault(name.strip().lower(), value.strip())
        return len(line)


def _curl_verify(*, verify: bool | str) -> bool | str:
    """Curl's ``verify``: a PEM path, or ``False``; never curl_cffi's own bundled CA list."""
    if verify is False:
        return False
    return ca_bundle(verify=verify) or _system_ca_file() or True


def _system_ca_file() -> str | None:
    """The system's CA bundle, as OpenSSL finds it."""
    paths = ssl.get_default_verify_paths()
    for candidate in (paths.cafile, paths.openssl_cafile):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


async def _close_when_the_loop_ends(
    session: _Session,
    registry: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession],
    loop: weakref.ref[asyncio.AbstractEventLoop],
) -> AsyncGenerator[None, None]:
    """Close ``session`` when its loop shuts down, even if the caller never closed the client.

    ``asyncio.run`` (and the sync twins' background loop) finalise every live async generator
    before closing the loop, so this ``finally`` runs while the loop can still close sockets.
    """
    try:
        yield
    finally:
        ended = loop()
        if ended is not None:
            registry.pop(ended, None)
        await session.close()

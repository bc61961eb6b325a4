"""``PlaygroundClient``: resolve the model, pick the dialect, retry, keep the session."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import time
import weakref
from dataclasses import dataclass
from types import MethodType
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import aiohttp

from langchain_cloudflare_playground.client.codecs import (
    ChatRequest,
    HttpDialect,
    StreamDecoder,
    detect_http_dialect,
)
from langchain_cloudflare_playground.client.codecs.agents import (
    AgentChatDecoder,
    StateRejectedError,
    agent_url,
    cancel_frame,
    chat_frame,
    decode_rpc_reply,
    is_initial_state,
    new_room,
    rpc_frame,
    state_frame,
)
from langchain_cloudflare_playground.client.codecs.base import parse_json_frame
from langchain_cloudflare_playground.client.errors import (
    NotFoundError,
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundProtocolError,
    PlaygroundStreamError,
)
from langchain_cloudflare_playground.client.events import (
    ChatEvent,
    ChatReply,
    Finish,
    ReasoningDelta,
    TextDelta,
)
from langchain_cloudflare_playground.client.messages import MessageInput, normalize_messages
from langchain_cloudflare_playground.client.models import (
    ModelCatalog,
    ModelInfo,
    parse_model_list,
    static_models,
)
from langchain_cloudflare_playground.client.retry import RetryPolicy
from langchain_cloudflare_playground.client.sessions import (
    SessionCache,
    SessionSource,
    SessionStore,
)
from langchain_cloudflare_playground.client.sync import BackgroundLoop
from langchain_cloudflare_playground.client.transports.cassette import (
    CassetteConversation,
    RecordingAgentSocket,
    ReplayedAgentSocket,
    active_cassette,
    unrecorded_request,
)
from langchain_cloudflare_playground.client.transports.http import (
    check_status,
    drain_for_reuse,
    iter_lines,
    translated_errors,
)
from langchain_cloudflare_playground.client.transports.websocket import (
    AgentSocket,
    connect_agent_socket,
)

if TYPE_CHECKING:
    from collections.abc import (
        AsyncGenerator,
        AsyncIterator,
        Awaitable,
        Callable,
        Iterable,
        Iterator,
        Mapping,
    )
    from types import TracebackType

    from typing_extensions import Self

__all__ = ["DEFAULT_BASE_URL", "Dialect", "PlaygroundClient"]

logger = logging.getLogger("langchain_cloudflare_playground")

DEFAULT_BASE_URL = "https://playground.ai.cloudflare.com"
BASE_URL_ENV = "CF_PLAYGROUND_URL"
Dialect = Literal["auto", "websocket", "http"]
_DIALECTS = ("auto", "websocket", "http")
# What "auto" learnt per base URL: servers do not change dialect within a process's life.
_HTTP_ONLY_BASE_URLS: set[str] = set()
# Servers that refuse client state are configured through the setConfig RPC instead.
_RPC_CONFIGURED_BASE_URLS: set[str] = set()
_T = TypeVar("_T")


class PlaygroundClient:
    """An async-first streaming client for the Cloudflare AI Playground.

    One aiohttp session per event loop, reused across calls; close it with ``await
    client.aclose()`` or ``async with``. Every ``a``-method has a synchronous twin that works in
    plain scripts and inside a running loop (a Jupyter cell).

    Example:
        .. code-block:: python

            async with PlaygroundClient() as client:
                async for event in client.astream_chat("Tell me a joke"):
                    if isinstance(event, TextDelta):
                        print(event.text, end="")

    Args:
        base_url: The playground to talk to; defaults to ``$CF_PLAYGROUND_URL``, then the
            public site.
        model: The default model (an alias or a full ``@cf/``/``@hf/`` id).
        dialect: ``"websocket"`` (the live site's Agents-SDK dialect), ``"http"`` (the two older
            dialects, told apart from the first line of each reply), or ``"auto"``: the
            WebSocket, falling back to HTTP for good when the server has no Agents route.
        timeout: Seconds allowed for the connect, for the first byte, and for every gap between
            chunks. A reply that keeps flowing is never cut, however long it takes.
        max_retries: Tries after the first for retryable failures (408, 409, 429, 5xx, challenge
            pages, connection errors), made only before anything reached the caller.
        proxy: An HTTP proxy URL used for every request.
        session_cache: Where session args are cached: a :class:`SessionCache`, ``None`` for the
            default location, or ``False`` for no cache.
        session_source: What acquires fresh session args (browser-like defaults unless given).
        user_agent: A user agent that overrides the session's.
        headers: Extra headers sent with every request.
        cookies: Cookies sent with every request, on top of the session's.
        models_ttl: Seconds a fetched model list stays fresh.
        max_connections: The size of the connection pool per event loop.
    """

    def __init__(  # noqa: PLR0913 (configuration is keyword-only and documented)
        self,
        base_url: str | None = None,
        *,
        model: str | None = None,
        dialect: Dialect = "auto",
        timeout: float = 300.0,
        max_retries: int = 2,
        proxy: str | None = None,
        session_cache: SessionCache | Literal[False] | None = None,
        session_source: SessionSource | None = None,
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        models_ttl: float = 600.0,
        max_connections: int = 100,
    ) -> None:
        """Configure the client; nothing connects until the first call."""
        if dialect not in _DIALECTS:
            msg = f"dialect must be one of {', '.join(map(repr, _DIALECTS))}, not {dialect!r}"
            raise ValueError(msg)
        if timeout <= 0:
            msg = f"timeout must be a positive number of seconds, not {timeout!r}"
            raise ValueError(msg)
        self.base_url = (base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
        if not self.base_url.startswith(("http://", "https://")):
            msg = f"base_url must start with http:// or https://, not {self.base_url!r}"
            raise ValueError(msg)
        self.model = model
        self.dialect: Dialect = dialect
        self.timeout = timeout
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        self.proxy = proxy
        self.models_ttl = models_ttl
        self.max_connections = max_connections
        cache = None if session_cache is False else (session_cache or SessionCache())
        self.sessions = SessionStore(
            self.base_url,
            source=session_source,
            cache=cache,
            user_agent=user_agent,
            headers=headers,
            cookies=cookies,
        )
        self._catalog = ModelCatalog()
        self._live_models: tuple[float, list[ModelInfo]] | None = None
        self._http_dialect: HttpDialect | None = None  # learnt from the server's first reply
        self._background_closes: set[asyncio.Task[None]] = set()
        self._http_sessions: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession] = (
            weakref.WeakKeyDictionary()
        )
        self._background = BackgroundLoop()

    def __repr__(self) -> str:
        """Configuration only; the session's cookies stay out of reprs."""
        return (
            f"PlaygroundClient(base_url={self.base_url!r}, model={self.model!r},"
            f" dialect={self.dialect!r}, timeout={self.timeout!r},"
            f" max_retries={self.retry_policy.max_retries!r}, proxy={_redact_url(self.proxy)!r})"
        )

    # -- chat -------------------------------------------------------------------------------

    async def astream_chat(
        self,
        messages: Iterable[MessageInput] | str,
        *,
        model: str | None = None,
        max_tokens: int = 2048,
        temperature: float | None = None,
    ) -> AsyncIterator[ChatEvent]:
        """Stream a reply as :class:`TextDelta`, :class:`ReasoningDelta` and one :class:`Finish`.

        Args:
            messages: The conversation: dicts with ``role`` and ``content``, :class:`Message`
                objects, or a single user prompt as a string.
            model: An alias or full id; defaults to the client's model.
            max_tokens: The most tokens the reply may have.
            temperature: Sampling temperature; the server's default when ``None``.

        Raises:
            PlaygroundStreamError: the stream broke after something reached the caller; it
                carries the text received so far.
            PlaygroundError: any other failure, typed (see ``errors``).
        """
        conversation = normalize_messages(messages)
        if max_tokens <= 0:
            msg = f"max_tokens must be positive, not {max_tokens!r}"
            raise ValueError(msg)
        request = ChatRequest(
            conversation=conversation,
            model=await self.aresolve_model(model or self.model),
            max_tokens=max_tokens,
            temperature=temperature,
        )
        retries_done = 0
        while True:
            text: list[str] = []
            reasoning: list[str] = []
            try:
                async for event in self._astream_once(request):
                    if isinstance(event, TextDelta):
                        text.append(event.text)
                    elif isinstance(event, ReasoningDelta):
                        reasoning.append(event.text)
                    yield event
            except PlaygroundStreamError:
                raise
            except PlaygroundError as exc:
                if text or reasoning:
                    raise PlaygroundStreamError(
                        str(exc), partial_text="".join(text), partial_reasoning="".join(reasoning)
                    ) from exc
                await self._wait_before_retry(exc, retries_done)
                retries_done += 1
            else:
                return

    async def achat(
        self,
        messages: Iterable[MessageInput] | str,
        *,
        model: str | None = None,
        max_tokens: int = 2048,
        temperature: float | None = None,
    ) -> ChatReply:
        """The whole reply at once; takes the same arguments as :meth:`astream_chat`."""
        text: list[str] = []
        reasoning: list[str] = []
        finish: Finish | None = None
        async for event in self.astream_chat(
            messages, model=model, max_tokens=max_tokens, temperature=temperature
        ):
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
            else:
                finish = event
        if finish is None:  # every transport ends a stream with a Finish or an error
            msg = "the stream ended without a finish event"
            raise PlaygroundProtocolError(msg)
        return ChatReply(
            text="".join(text),
            reasoning="".join(reasoning),
            finish_reason=finish.reason,
            usage=finish.usage,
            model=finish.model,
        )

    def stream_chat(
        self,
        messages: Iterable[MessageInput] | str,
        *,
        model: str | None = None,
        max_tokens: int = 2048,
        temperature: float | None = None,
    ) -> Iterator[ChatEvent]:
        """Synchronous twin of :meth:`astream_chat`."""
        return self._background.iterate(
            self.astream_chat(messages, model=model, max_tokens=max_tokens, temperature=temperature)
        )

    def chat(
        self,
        messages: Iterable[MessageInput] | str,
        *,
        model: str | None = None,
        max_tokens: int = 2048,
        temperature: float | None = None,
    ) -> ChatReply:
        """Synchronous twin of :meth:`achat`."""
        return self._background.run(
            self.achat(messages, model=model, max_tokens=max_tokens, temperature=temperature)
        )

    # -- models -----------------------------------------------------------------------------

    async def alist_models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """The playground's chat models, cached for ``models_ttl`` seconds.

        When the list cannot be fetched, returns the static alias table and logs a warning.
        """
        cached = self._live_models
        if cached is not None and not refresh and time.monotonic() - cached[0] < self.models_ttl:
            return list(cached[1])
        fetch = self._fetch_http_models if self._uses_http() else self._fetch_agent_models
        try:
            models = await self._with_retries(fetch)
        except NotFoundError:
            if self.dialect != "auto" or self._uses_http():
                return self._static_models_after(NotFoundError("no model list route"))
            self._learn_http_only()
            return await self.alist_models(refresh=refresh)
        except PlaygroundError as exc:
            return self._static_models_after(exc)
        self._live_models = (time.monotonic(), models)
        self._catalog.add(models)
        return list(models)

    def _static_models_after(self, error: PlaygroundError) -> list[ModelInfo]:
        logger.warning(
            "Could not fetch the model list from %s (%s); using the built-in alias table",
            self.base_url,
            error,
        )
        return static_models()

    def list_models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """Synchronous twin of :meth:`alist_models`."""
        return self._background.run(self.alist_models(refresh=refresh))

    async def aresolve_model(self, name: str | None) -> str:
        """The full model id for an alias, a bare name, or a full id.

        Known names cost nothing; an unknown short name fetches the live list once before
        failing with the closest names.

        Raises:
            ModelNotFoundError: the name matches no model.
        """
        resolved = self._catalog.resolve(name)
        if resolved is None and self._live_models is None:
            await self.alist_models()
            resolved = self._catalog.resolve(name)
        if resolved is None:
            raise self._catalog.not_found(name or "")
        return resolved

    # -- lifecycle --------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close this loop's connections and the background loop of the sync methods."""
        loop = asyncio.get_running_loop()
        closing = [task for task in self._background_closes if task.get_loop() is loop]
        if closing:
            await asyncio.gather(*closing, return_exceptions=True)
        entry = self._http_sessions.pop(loop, None)
        if entry is not None:
            await entry.closer.aclose()
        if self._background.loop is not None:
            await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Close the sync methods' connections and stop their background loop.

        From async code use :meth:`aclose`, which closes the calling loop's connections too.
        """
        loop = self._background.loop
        if loop is None:
            return
        self._http_sessions.pop(loop, None)
        self._background.stop()  # which closes the loop's session (see _LoopSession)

    async def __aenter__(self) -> Self:
        """Use the client in ``async with``."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on leaving ``async with``."""
        await self.aclose()

    def __enter__(self) -> Self:
        """Use the client in ``with`` (sync methods)."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close on leaving ``with``."""
        self.close()

    # -- dialect choice ---------------------------------------------------------------------

    def _uses_http(self) -> bool:
        return self.dialect == "http" or (
            self.dialect == "auto" and self.base_url in _HTTP_ONLY_BASE_URLS
        )

    def _learn_http_only(self) -> None:
        logger.info("%s has no Agents WebSocket route; using the HTTP dialects", self.base_url)
        _HTTP_ONLY_BASE_URLS.add(self.base_url)

    async def _astream_once(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        """One try, in the dialect the server speaks."""
        if not self._uses_http():
            try:
                socket = await self._open_agent_socket(_conversation_key(request))
            except NotFoundError as exc:
                if self.dialect != "auto":
                    raise
                if not isinstance(exc, _NotInCassetteError):
                    self._learn_http_only()
            else:
                async for event in self._converse(socket, request):
                    yield event
                return
        async for event in self._astream_http(request):
            yield event

    # -- the Agents WebSocket dialect ------------------------------------------------------

    async def _open_agent_socket(self, key: dict[str, object]) -> AgentSocket:
        """A connection to a fresh room: live, or recorded/replayed when a cassette is active.

        Raises:
            NotFoundError: the server has no Agents route (or, under a write-protected
                cassette, no recorded conversation in ``"auto"`` mode, so HTTP gets its turn).
        """
        url = agent_url(self.base_url, new_room())
        args = await self.sessions.get()
        headers = args.request_headers()
        cassette = active_cassette()
        if cassette is None:
            session = await self._http_session()
            return await connect_agent_socket(
                session, url, headers=headers, proxy=self.proxy, timeout=self.timeout
            )
        conversation = CassetteConversation(cassette, url, key, headers)
        frames = conversation.recorded_frames()
        if frames is not None:
            return ReplayedAgentSocket(frames)
        if not conversation.may_record:
            if self.dialect == "auto":
                # Maybe this conversation was recorded over HTTP: let vcrpy decide.
                msg = "no recorded WebSocket conversation in the cassette"
                raise _NotInCassetteError(msg)
            raise conversation.refusal()
        # The upgrade goes through aiohttp's own request function, so vcrpy does not record a
        # bare upgrade beside the conversation; the session lives as long as the recording.
        session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        object.__setattr__(session, "_request", MethodType(unrecorded_request(), session))
        try:
            live = await connect_agent_socket(
                session, url, headers=headers, proxy=self.proxy, timeout=self.timeout
            )
        except BaseException:
            await session.close()
            raise
        return RecordingAgentSocket(live, conversation, on_close=session.close)

    async def _converse(
        self, socket: AgentSocket, request: ChatRequest
    ) -> AsyncIterator[ChatEvent]:
        """Configure the room, send the history, and stream the reply."""
        decoder = AgentChatDecoder(request.model)
        try:
            server_state = await _initial_state(socket)
            by_rpc = self.base_url in _RPC_CONFIGURED_BASE_URLS
            if by_rpc:
                await _call(socket, "setConfig", [_config_args(request)])
            else:
                await socket.send(state_frame(server_state, request))
            await socket.send(chat_frame(request.conversation, system_in_messages=by_rpc))
            while not decoder.done:
                raw = await socket.receive()
                try:
                    events = decoder.feed(raw)
                except StateRejectedError:
                    if by_rpc:
                        raise
                    # Configure through setConfig from now on, and ask again in a new room.
                    _RPC_CONFIGURED_BASE_URLS.add(self.base_url)
                    logger.info("%s refuses client state; using setConfig", self.base_url)
                    retry = await self._open_agent_socket(_conversation_key(request))
                    async for event in self._converse(retry, request):
                        yield event
                    return
                for event in events:
                    yield event
        finally:
            self._close_in_background(socket, cancel=not decoder.done)

    def _close_in_background(self, socket: AgentSocket, *, cancel: bool) -> None:
        """Cancel the request if it is still running, then close: off the caller's time."""

        async def finish() -> None:
            if cancel:
                with contextlib.suppress(PlaygroundError):
                    await socket.send(cancel_frame())
            await socket.close()

        task = asyncio.get_running_loop().create_task(finish())
        self._background_closes.add(task)
        task.add_done_callback(self._background_closes.discard)

    async def _fetch_agent_models(self) -> list[ModelInfo]:
        socket = await self._open_agent_socket({"rpc": "getModels"})
        try:
            result = await _call(socket, "getModels", [])
        finally:
            self._close_in_background(socket, cancel=False)
        models = parse_model_list(result)
        if not models:
            msg = "the model list is empty or in an unknown shape"
            raise PlaygroundProtocolError(msg)
        return models

    # -- HTTP dialects ----------------------------------------------------------------------

    async def _astream_http(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        """One try over HTTP, in whichever of dialects 1 and 2 the server speaks."""
        encoded_as = self._http_dialect or HttpDialect.DATA_STREAM
        while True:
            args = await self.sessions.get()
            with translated_errors(self.timeout):
                async with (await self._http_session()).post(
                    f"{self.base_url}/api/inference",
                    json=encoded_as.encode(request),
                    headers=args.request_headers(),
                    proxy=self.proxy,
                ) as response:
                    await check_status(response)
                    self.sessions.update_cookies(response.cookies)
                    decoder: StreamDecoder | None = None
                    async for line in iter_lines(response):
                        if decoder is None:
                            if not line.strip():
                                continue
                            spoken = detect_http_dialect(line)
                            self._http_dialect = spoken
                            if spoken is not encoded_as and request.conversation.system:
                                # The two dialects carry the system prompt in different places;
                                # ask again in the server's dialect so the prompt is not lost.
                                break
                            decoder = spoken.decoder(request.model)
                        for event in decoder.feed(line):
                            yield event
                        if decoder.done:
                            await drain_for_reuse(response)
                            return
                    else:
                        if decoder is None:
                            msg = "the playground answered with an empty reply"
                            raise PlaygroundProtocolError(msg)
                        msg = "the playground closed the stream before the reply was complete"
                        raise PlaygroundConnectionError(msg)
            encoded_as = self._http_dialect or encoded_as

    async def _fetch_http_models(self) -> list[ModelInfo]:
        args = await self.sessions.get()
        with translated_errors(self.timeout):
            async with (await self._http_session()).get(
                f"{self.base_url}/api/models",
                headers={**args.request_headers(), "Accept": "application/json"},
                proxy=self.proxy,
            ) as response:
                await check_status(response)
                self.sessions.update_cookies(response.cookies)
                raw = await response.read()
        try:
            payload = json.loads(raw)
        except ValueError as exc:
            msg = f"the model list is not JSON: {raw[:80]!r}"
            raise PlaygroundProtocolError(msg) from exc
        models = parse_model_list(payload)
        if not models:
            msg = "the model list is empty or in an unknown shape"
            raise PlaygroundProtocolError(msg)
        return models

    async def _with_retries(self, call: Callable[[], Awaitable[_T]]) -> _T:
        retries_done = 0
        while True:
            try:
                return await call()
            except PlaygroundError as exc:
                await self._wait_before_retry(exc, retries_done)
                retries_done += 1

    async def _wait_before_retry(self, error: PlaygroundError, retries_done: int) -> None:
        """Sleep before the next try, or re-raise ``error`` when no try is left for it."""
        if not self.retry_policy.should_retry(error, retries_done):
            raise error
        delay = self.retry_policy.delay(retries_done, getattr(error, "retry_after", None))
        logger.info(
            "Playground request failed (%s); retry %d of %d in %.2f s",
            error,
            retries_done + 1,
            self.retry_policy.max_retries,
            delay,
        )
        await asyncio.sleep(delay)

    async def _http_session(self) -> aiohttp.ClientSession:
        loop = asyncio.get_running_loop()
        entry = self._http_sessions.get(loop)
        if entry is not None and not entry.session.closed:
            return entry.session
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=self.max_connections),
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=self.timeout,
                sock_connect=self.timeout,
                sock_read=self.timeout,
            ),
            # Cookies live in the session store, the one place that persists them.
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        entry = _LoopSession(
            session, _close_when_the_loop_ends(session, lambda: self._http_sessions.pop(loop, None))
        )
        self._http_sessions[loop] = entry
        await anext(entry.closer)
        return session


class _NotInCassetteError(NotFoundError):
    """A write-protected cassette holds no WebSocket conversation for this request."""


@dataclass(frozen=True, slots=True)
class _LoopSession:
    """One event loop's aiohttp session, and the generator that closes it with the loop."""

    session: aiohttp.ClientSession
    closer: AsyncGenerator[None, None]


async def _close_when_the_loop_ends(
    session: aiohttp.ClientSession, forget: Callable[[], object]
) -> AsyncGenerator[None, None]:
    """Close ``session`` when its loop shuts down, even if the caller never closed the client.

    ``asyncio.run`` (and our own background loop) finalise every live async generator before
    closing the loop, so this ``finally`` runs inside the loop while it can still close sockets.
    A client used across several ``asyncio.run`` calls therefore leaks nothing; ``forget`` drops
    the client's reference, which would otherwise keep the ended loop alive.
    """
    try:
        yield
    finally:
        forget()
        await session.close()


async def _initial_state(socket: AgentSocket) -> dict[str, Any]:
    """The room state the server sends on connect (empty if it sends none before its MCP list)."""
    while True:
        frame = parse_json_frame(await socket.receive(), "agent")
        if isinstance(frame, dict):
            if is_initial_state(frame):
                state: dict[str, Any] = frame["state"]
                return state
            if frame.get("type") == "cf_agent_mcp_servers":
                return {}


async def _call(socket: AgentSocket, method: str, args: list[Any]) -> Any:  # noqa: ANN401
    """Call an agent method and wait for its reply (other frames are skipped)."""
    rpc_id = f"rpc-{method}"
    await socket.send(rpc_frame(rpc_id, method, args))
    while True:
        answered, result = decode_rpc_reply(await socket.receive(), rpc_id)
        if answered:
            return result


def _config_args(request: ChatRequest) -> dict[str, Any]:
    """``setConfig``'s argument; the system prompt then travels in the history instead."""
    config: dict[str, Any] = {"model": request.model, "stream": True}
    if request.temperature is not None:
        config["temperature"] = request.temperature
    return config


def _conversation_key(request: ChatRequest) -> dict[str, object]:
    """What identifies a conversation in a cassette: settings and history, nothing random."""
    return {
        "model": request.model,
        "temperature": request.temperature,
        "system": request.conversation.system,
        "messages": [[m.role, m.content] for m in request.conversation.turns],
    }


def _redact_url(url: str | None) -> str | None:
    """A proxy URL without its password."""
    if url is None or "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"

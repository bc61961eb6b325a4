"""``PlaygroundClient``: resolve the model, pick the dialect, retry, keep the session."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from langchain_cloudflare_playground.client.codecs import ChatRequest
from langchain_cloudflare_playground.client.errors import (
    ChallengeError,
    NotFoundError,
    PermissionDeniedError,
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
from langchain_cloudflare_playground.client.messages import (
    Conversation,
    MessageInput,
    normalize_messages,
)
from langchain_cloudflare_playground.client.models import ModelCatalog, ModelInfo, static_models
from langchain_cloudflare_playground.client.received import ReceivedText
from langchain_cloudflare_playground.client.retry import RetryPolicy
from langchain_cloudflare_playground.client.sessions import (
    SessionCache,
    SessionSource,
    SessionStore,
)
from langchain_cloudflare_playground.client.site import BASE_URL_ENV, DEFAULT_BASE_URL
from langchain_cloudflare_playground.client.sync import BackgroundLoop
from langchain_cloudflare_playground.client.tools import Tool, ToolCall, normalize_tool_choice

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator, Sequence
    from types import TracebackType

    from typing_extensions import Self

    from langchain_cloudflare_playground.client.tools import ToolChoice

__all__ = ["DEFAULT_BASE_URL", "Dialect", "PlaygroundClient"]

logger = logging.getLogger("langchain_cloudflare_playground")

Dialect = Literal["auto", "websocket", "http"]
_DIALECTS = ("auto", "websocket", "http")
Transport = Literal["auto", "direct", "browser"]
_TRANSPORTS = ("auto", "direct", "browser")
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
            chunks.
        total_timeout: Seconds allowed for one request and its whole reply, so that a server
            that trickles a byte now and then cannot hold a call forever; ``None`` for no limit.
            A reply cut by it raises :class:`PlaygroundStreamError` with the text so far.
        max_retries: Tries after the first for retryable failures (408, 409, 429, 5xx,
            connection errors), made only before anything reached the caller. A refused session
            (403, a challenge page, a refused WebSocket upgrade) is instead replaced by a fresh
            one and the call tried again once.
        proxy: An HTTP proxy URL used for every request.
        session_cache: Where session args are cached: a :class:`SessionCache`, ``None`` for the
            default location, or ``False`` for no cache.
        session_source: What acquires fresh session args. By default a real browser (the
            ``browser`` extra and a Chrome or Chromium) when one is found, else browser-like
            default headers.
        browser: ``False`` never starts a browser (as ``$CF_PLAYGROUND_BROWSER=0`` does),
            ``True`` requires one; ``None`` uses one when it is there.
        transport: How the WebSocket dialect connects: ``"direct"``, ``"browser"`` (opened
            inside a browser page and relayed, the in-page relay), or ``"auto"``: direct, and
            the relay once the site refuses a direct upgrade even with a fresh browser session.
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
        total_timeout: float | None = 1800.0,
        max_retries: int = 2,
        proxy: str | None = None,
        session_cache: SessionCache | Literal[False] | None = None,
        session_source: SessionSource | None = None,
        browser: bool | None = None,
        transport: Transport = "auto",
        user_agent: str | None = None,
        headers: Mapping[str, str] | None = None,
        cookies: Mapping[str, str] | None = None,
        models_ttl: float = 600.0,
        max_connections: int = 100,
    ) -> None:
        """Configure the client; nothing connects until the first call."""
        if transport not in _TRANSPORTS:
            msg = f"transport must be one of {', '.join(map(repr, _TRANSPORTS))}, not {transport!r}"
            raise ValueError(msg)
        if dialect not in _DIALECTS:
            msg = f"dialect must be one of {', '.join(map(repr, _DIALECTS))}, not {dialect!r}"
            raise ValueError(msg)
        if total_timeout is not None and total_timeout <= 0:
            msg = (
                f"total_timeout must be a positive number of seconds or None, not {total_timeout!r}"
            )
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
        self.total_timeout = total_timeout
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        self.proxy = proxy
        self.models_ttl = models_ttl
        # The network layers (aiohttp above all) load with the first client, not with the
        # package: an adapter that is imported but not yet used costs its framework little.
        from langchain_cloudflare_playground.client.browser import (  # noqa: PLC0415
            default_session_source,
        )
        from langchain_cloudflare_playground.client.connection import (  # noqa: PLC0415
            Connection,
        )
        from langchain_cloudflare_playground.client.dialects import (  # noqa: PLC0415
            AgentsDialect,
            HttpDialects,
        )

        cache = None if session_cache is False else (session_cache or SessionCache())
        self.sessions = SessionStore(
            self.base_url,
            source=session_source or default_session_source(browser=browser),
            cache=cache,
            user_agent=user_agent,
            headers=headers,
            cookies=cookies,
        )
        self._connection = Connection(
            self.base_url,
            sessions=self.sessions,
            proxy=proxy,
            timeout=timeout,
            total_timeout=total_timeout,
            max_connections=max_connections,
        )
        self._http = HttpDialects(self._connection)
        self._http_only = dialect == "http"  # "auto" learns it from a missing Agents route
        self._agents = AgentsDialect(self._connection)
        self._agents.through_browser = transport == "browser"
        self.transport: Transport = transport
        self._browser = browser
        # The sync twins run on another thread: the model list is shared state.
        self._models_lock = threading.Lock()
        self._catalog = ModelCatalog()
        self._live_models: tuple[float, list[ModelInfo]] | None = None
        self._background = BackgroundLoop()

    def __repr__(self) -> str:
        """Configuration only; the session's cookies stay out of reprs."""
        return (
            f"PlaygroundClient(base_url={self.base_url!r}, model={self.model!r},"
            f" dialect={self.dialect!r}, timeout={self.timeout!r},"
            f" max_retries={self.retry_policy.max_retries!r}, proxy={_redact_url(self.proxy)!r})"
        )

    # -- chat -------------------------------------------------------------------------------

    async def astream_chat(  # noqa: PLR0913 (options are keyword-only and documented)
        self,
        messages: Iterable[MessageInput] | str,
        *,
        model: str | None = None,
        max_tokens: int = 2048,
        temperature: float | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> AsyncGenerator[ChatEvent, None]:
        """Stream a reply as :class:`TextDelta`, :class:`ReasoningDelta` and one :class:`Finish`.

        Args:
            messages: The conversation: dicts with ``role`` and ``content``, :class:`Message`
                objects, or a single user prompt as a string. Assistant dicts may carry
                ``tool_calls`` and ``{"role": "tool", ...}`` dicts carry their results.
            model: An alias or full id; defaults to the client's model.
            max_tokens: The most tokens the reply may have (the HTTP dialects send it; the
                WebSocket dialect has no such setting, so the server's own limit applies).
            temperature: Sampling temperature; the server's default when ``None``.
            tools: Tools the model may call: :class:`Tool` objects or dicts with ``name``,
                ``description`` and ``parameters`` (a JSON schema). The playground takes no
                tools of its own, so they are offered in the prompt and the reply is parsed;
                calls come as :class:`ToolCall` events before the :class:`Finish`.
            tool_choice: ``"auto"`` (the default), ``"required"`` (or ``"any"``), a tool's
                name, or ``"none"``.

        Raises:
            PlaygroundStreamError: the stream broke after something reached the caller; it
                carries the text received so far.
            PlaygroundError: any other failure, typed (see ``errors``).
            ValueError: for messages, tools or a tool choice that cannot be sent.
        """
        conversation = normalize_messages(messages)
        if max_tokens <= 0:
            msg = f"max_tokens must be positive, not {max_tokens!r}"
            raise ValueError(msg)
        offered = tuple(_to_tool(tool, index) for index, tool in enumerate(tools or ()))
        choice = normalize_tool_choice(tool_choice, offered)
        resolved = await self.aresolve_model(model or self.model)

        def send(conversation: Conversation) -> AsyncGenerator[ChatEvent, None]:
            request = ChatRequest(
                conversation=conversation,
                model=resolved,
                max_tokens=max_tokens,
                temperature=temperature,
            )
            return self._astream_with_retries(request)

        if offered and choice != "none":
            from langchain_cloudflare_playground.client.tools.calling import (  # noqa: PLC0415
                stream_with_tools,
                with_tools_prompt,
            )

            conversation = with_tools_prompt(conversation, offered, choice)
            events = stream_with_tools(send, conversation, offered, choice)
        else:
            events = send(conversation)
        async with contextlib.aclosing(events):
            async for event in events:
                yield event

    async def achat(  # noqa: PLR0913 (options are keyword-only and documented)
        self,
        messages: Iterable[MessageInput] | str,
        *,
        model: str | None = None,
        max_tokens: int = 2048,
        temperature: float | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> ChatReply:
        """The whole reply at once; takes the same arguments as :meth:`astream_chat`."""
        text: list[str] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        finish: Finish | None = None
        async for event in self.astream_chat(
            messages,
            model=model,
            max_tokens=max_tokens,
            temperature=temperature,
            tools=tools,
            tool_choice=tool_choice,
        ):
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
            elif isinstance(event, ToolCall):
                calls.append(event)
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
            tool_calls=tuple(calls),
            tool_call_problem=finish.tool_call_problem,
        )

    def stream_chat(  # noqa: PLR0913 (options are keyword-only and documented)
        self,
        messages: Iterable[MessageInput] | str,
        *,
        model: str | None = None,
        max_tokens: int = 2048,
        temperature: float | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> Iterator[ChatEvent]:
        """Synchronous twin of :meth:`astream_chat`."""
        return self._background.iterate(
            self.astream_chat(
                messages,
                model=model,
                max_tokens=max_tokens,
                temperature=temperature,
                tools=tools,
                tool_choice=tool_choice,
            )
        )

    def chat(  # noqa: PLR0913 (options are keyword-only and documented)
        self,
        messages: Iterable[MessageInput] | str,
        *,
        model: str | None = None,
        max_tokens: int = 2048,
        temperature: float | None = None,
        tools: Sequence[Tool | Mapping[str, Any]] | None = None,
        tool_choice: ToolChoice | None = None,
    ) -> ChatReply:
        """Synchronous twin of :meth:`achat`."""
        return self._background.run(
            self.achat(
                messages,
                model=model,
                max_tokens=max_tokens,
                temperature=temperature,
                tools=tools,
                tool_choice=tool_choice,
            )
        )

    async def _astream_with_retries(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """One request, retried while nothing has reached the caller."""
        attempts = _Attempts()
        while True:
            attempts.generation = await self._session_generation()
            text = ReceivedText()
            reasoning = ReceivedText()
            try:
                async with contextlib.aclosing(self._astream_once(request)) as events:
                    async for event in events:
                        if isinstance(event, TextDelta):
                            text.add(event.text)
                        elif isinstance(event, ReasoningDelta):
                            reasoning.add(event.text)
                        yield event
            except PlaygroundStreamError:
                raise
            except PlaygroundError as exc:
                if text or reasoning:
                    raise PlaygroundStreamError(
                        str(exc), partial_text=text.text(), partial_reasoning=reasoning.text()
                    ) from exc
                await self._prepare_retry(exc, attempts)
            else:
                return

    # -- models -----------------------------------------------------------------------------

    async def alist_models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """The playground's chat models, cached for ``models_ttl`` seconds.

        When the list cannot be fetched, returns the static alias table and logs a warning.
        """
        cached = self._live_models
        if cached is not None and not refresh and time.monotonic() - cached[0] < self.models_ttl:
            return list(cached[1])
        try:
            models = await self._with_retries(self._fetch_models)
        except PlaygroundError as exc:
            return self._static_models_after(exc)
        with self._models_lock:
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
        with self._models_lock:
            resolved = self._catalog.resolve(name)
        if resolved is None and self._live_models is None:
            await self.alist_models()
            with self._models_lock:
                resolved = self._catalog.resolve(name)
        if resolved is None:
            with self._models_lock:
                raise self._catalog.not_found(name or "")
        return resolved

    # -- lifecycle --------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close this loop's connections and browser, and the sync methods' background loop."""
        await self._agents.aclose()
        await self._connection.aclose()
        if self._background.loop is not None:
            await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Close the sync methods' connections and stop their background loop.

        From async code use :meth:`aclose`, which closes the calling loop's connections too.
        """
        loop = self._background.loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may already be gone
            self._background.run(self._agents.aclose())
            self._background.run(self._connection.aclose())
        self._background.stop()
        self._connection.forget_loop(loop)

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

    # -- choosing the dialect ---------------------------------------------------------------

    def _uses_http(self) -> bool:
        return self._http_only

    def _fall_back_to_http(self, error: NotFoundError) -> None:
        """Let HTTP answer after the WebSocket route was missing; raise if that is not allowed."""
        from langchain_cloudflare_playground.client.dialects.agents import (  # noqa: PLC0415
            NotInCassetteError,
        )

        if isinstance(error, NotInCassetteError):
            if self.dialect != "auto":
                raise error.refusal from None
            return  # the cassette may hold the conversation over HTTP; learn nothing
        if self.dialect != "auto":
            raise error
        logger.info("%s has no Agents WebSocket route; using the HTTP dialects", self.base_url)
        self._http_only = True

    async def _astream_once(self, request: ChatRequest) -> AsyncGenerator[ChatEvent, None]:
        """One try, in the dialect the server speaks."""
        if not self._uses_http():
            events = self._agents.stream(request)
            try:
                first = await anext(events)
            except NotFoundError as exc:
                await events.aclose()
                self._fall_back_to_http(exc)
            except StopAsyncIteration:
                return
            else:
                async with contextlib.aclosing(events):
                    yield first
                    async for event in events:
                        yield event
                return
        async with contextlib.aclosing(self._http.stream(request)) as events:
            async for event in events:
                yield event

    async def _fetch_models(self) -> list[ModelInfo]:
        if not self._uses_http():
            try:
                return await self._agents.list_models()
            except NotFoundError as exc:
                self._fall_back_to_http(exc)
        return await self._http.list_models()

    # -- retries ----------------------------------------------------------------------------

    async def _session_generation(self) -> int:
        """Get the session a try will use (acquiring it if need be), and say which it is."""
        if self._uses_http() or not self._agents.through_browser:  # the relay brings its own
            await self.sessions.get()
        return self.sessions.generation

    def _switch_to_relay(self) -> bool:
        """After a second refused upgrade, try the in-page relay, once, if a browser is here."""
        from langchain_cloudflare_playground.client.browser import (  # noqa: PLC0415
            browser_available,
        )

        if self.transport != "auto" or self._agents.through_browser:
            return False
        if not browser_available(browser=self._browser):
            return False
        logger.info(
            "%s refuses direct WebSocket upgrades; relaying through a browser page", self.base_url
        )
        self._agents.through_browser = True
        return True

    async def _with_retries(self, call: Callable[[], Awaitable[_T]]) -> _T:
        attempts = _Attempts()
        while True:
            attempts.generation = await self._session_generation()
            try:
                return await call()
            except PlaygroundError as exc:
                await self._prepare_retry(exc, attempts)

    async def _prepare_retry(self, error: PlaygroundError, attempts: _Attempts) -> None:
        """Get ready for the next try, or re-raise ``error`` when no try is left for it.

        A refused session (403, a challenge page, a refused upgrade) is replaced by a fresh one
        and the call tried again at once, a single time. Other retryable failures wait, with
        backoff, up to ``max_retries`` times.
        """
        if isinstance(error, (ChallengeError, PermissionDeniedError)):
            if attempts.refreshed:
                refused_upgrade = type(error).__name__ == "UpgradeRefusedError"
                if refused_upgrade and self._switch_to_relay():
                    return
                raise error
            attempts.refreshed = True
            logger.info("The playground refused the session (%s); getting a fresh one", error)
            self.sessions.invalidate(generation=attempts.generation)
            return
        if not self.retry_policy.should_retry(error, attempts.retries):
            raise error
        delay = self.retry_policy.delay(attempts.retries, getattr(error, "retry_after", None))
        attempts.retries += 1
        logger.info(
            "Playground request failed (%s); retry %d of %d in %.2f s",
            error,
            attempts.retries,
            self.retry_policy.max_retries,
            delay,
        )
        await asyncio.sleep(delay)


@dataclass
class _Attempts:
    """What one call has tried so far."""

    retries: int = 0
    refreshed: bool = False
    generation: int = 0  # of the session the current try started with


def _to_tool(tool: Tool | Mapping[str, Any], index: int) -> Tool:
    if isinstance(tool, Tool):
        return tool
    if isinstance(tool, Mapping) and isinstance(tool.get("name"), str):
        parameters = tool.get("parameters") or {"type": "object", "properties": {}}
        return Tool(str(tool["name"]), str(tool.get("description") or ""), dict(parameters))
    msg = (
        f"tools[{index}] is {tool!r}; pass a Tool or a dict with 'name', 'description' and"
        " 'parameters' (the JSON schema of its arguments)."
    )
    raise TypeError(msg)


def _redact_url(url: str | None) -> str | None:
    """A proxy URL without its password."""
    if url is None or "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    return f"{scheme}://***@{rest.rpartition('@')[2]}"

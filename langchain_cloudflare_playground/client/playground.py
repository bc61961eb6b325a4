"""``PlaygroundClient``: a thin front over the client's named jobs.

Options are checked in ``options``; the model directory resolves names and caches the catalog;
the router picks the driver and the transport of each try; the retrier carries out the retry
policy; the session store keeps the session. This class wires them and offers the four chat
twins.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.errors import PlaygroundProtocolError
from langchain_cloudflare_playground.client.events import (
    ChatReply,
    Finish,
    ReasoningDelta,
    TextDelta,
)
from langchain_cloudflare_playground.client.images import fetch_images
from langchain_cloudflare_playground.client.messages import Conversation, normalize_messages
from langchain_cloudflare_playground.client.model_directory import ModelDirectory
from langchain_cloudflare_playground.client.options import (
    ClientOptions,
    check_chat_options,
    resolve_base_url,
)
from langchain_cloudflare_playground.client.retries import Retrier, RetryPolicy
from langchain_cloudflare_playground.client.router import Router
from langchain_cloudflare_playground.client.sessions import SessionCache, SessionStore
from langchain_cloudflare_playground.client.sync import BackgroundLoop
from langchain_cloudflare_playground.client.tools import ToolCall, normalize_tool_choice
from langchain_cloudflare_playground.client.tools.spec import to_tool
from langchain_cloudflare_playground.client.transports.aiohttp_transport import redact_url
from langchain_cloudflare_playground.client.wire_formats import ChatRequest

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
    from types import TracebackType
    from typing import Self, Unpack

    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.messages import MessageInput
    from langchain_cloudflare_playground.client.models import ModelInfo
    from langchain_cloudflare_playground.client.options import ChatOptions

__all__ = ["PlaygroundClient"]


class PlaygroundClient:
    """An async-first streaming client for the Cloudflare AI Playground.

    One connection pool per event loop, reused across calls; close it with ``await
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
        **options: The options of :class:`~langchain_cloudflare_playground.client.options.\
ClientOptions` (``model``, ``wire_format``, ``timeout``, ``total_timeout``, ``max_retries``,
            ``proxy``, ``session_cache``, ``session_source``, ``browser``, ``transport``,
            ``user_agent``, ``headers``, ``cookies``, ``models_ttl``, ``max_connections``).

    Raises:
        TypeError: an unknown option; the message offers the closest valid names (a chat
            option such as ``temperature`` goes with each call, not here).
        ValueError: an option's value is out of range.
    """

    def __init__(self, base_url: str | None = None, **options: Any) -> None:  # noqa: ANN401
        """Configure the client; nothing connects until the first call."""
        self.options = ClientOptions.from_keywords(options, owner="PlaygroundClient")
        self.base_url = resolve_base_url(base_url)
        self.model = self.options.model
        # The network layers (aiohttp above all) load with the first client, not with the
        # package: an adapter that is imported but not yet used costs its framework little.
        from langchain_cloudflare_playground.client.browser import (  # noqa: PLC0415
            default_session_source,
        )

        settings = self.options
        cache = settings.session_cache
        self.sessions = SessionStore(
            self.base_url,
            source=settings.session_source
            or default_session_source(browser=settings.browser, verify=settings.verify),
            cache=None if cache is False else (cache or SessionCache()),
            user_agent=settings.user_agent,
            headers=settings.headers,
            cookies=settings.cookies,
        )
        self._router = Router(self.base_url, settings, self.sessions)
        self._retrier = Retrier(
            RetryPolicy(max_retries=settings.max_retries), self.sessions, self._router
        )
        self.models = ModelDirectory(
            lambda: self._retrier.call(self._router.list_models),
            ttl=settings.models_ttl,
            where=self.base_url,
        )
        self._background = BackgroundLoop()

    def __repr__(self) -> str:
        """Configuration only; the session's cookies and the proxy's password stay out."""
        return (
            f"PlaygroundClient(base_url={self.base_url!r}, model={self.model!r},"
            f" wire_format={self.options.wire_format!r}, timeout={self.options.timeout!r},"
            f" max_retries={self.retry_policy.max_retries!r},"
            f" proxy={redact_url(self.options.proxy)!r})"
        )

    @property
    def retry_policy(self) -> RetryPolicy:
        """The retry policy (replace it to tune the backoff)."""
        return self._retrier.policy

    @retry_policy.setter
    def retry_policy(self, policy: RetryPolicy) -> None:
        self._retrier.policy = policy

    # -- chat -------------------------------------------------------------------------------

    def astream_chat(
        self, messages: Iterable[MessageInput] | str, **options: Unpack[ChatOptions]
    ) -> AsyncGenerator[ChatEvent, None]:
        """Stream a reply as :class:`TextDelta`, :class:`ReasoningDelta` and one :class:`Finish`.

        Args:
            messages: The conversation: dicts with ``role`` and ``content``, :class:`Message`
                objects, or a single user prompt as a string. Assistant dicts may carry
                ``tool_calls`` and ``{"role": "tool", ...}`` dicts carry their results. A user
                message's content may hold images (:class:`ImagePart`, ``image_url`` parts,
                LangChain ``image`` blocks); an ``http(s)`` image is fetched by the client,
                over its transport, before anything is sent.
            **options: A :class:`~langchain_cloudflare_playground.client.options.ChatOptions`:
                ``model`` (an alias or full id; the client's model by default),
                ``max_tokens`` (the HTTP wire formats send it; the Agents frames have no such
                setting, so the server's own limit applies), ``temperature``, ``tools``
                (:class:`Tool` objects or dicts with ``name``, ``description`` and
                ``parameters``; offered in the prompt, calls come as :class:`ToolCall` events
                before the :class:`Finish`) and ``tool_choice`` (``"auto"``, ``"required"``
                or ``"any"``, a tool's name, or ``"none"``).

        Raises:
            PlaygroundStreamError: the stream broke after something reached the caller; it
                carries the text received so far.
            ImagesNotSupportedError: images for a model the catalog says has no vision (the
                message names the vision models), or over the HTTP wire formats.
            ImageError: an image that cannot be sent (too large, of another type, cut short,
                or, as ``ImageFetchError``, an ``http(s)`` one that could not be fetched).
            PlaygroundError: any other failure, typed (see ``errors``).
            TypeError: an unknown option (raised at once; the message offers the closest
                valid names), or a temperature that is not a number.
            ValueError: a temperature out of range (0 to 5, Workers AI's; checked at once), or
                messages, tools or a tool choice that cannot be sent.
        """
        check_chat_options(options, owner="astream_chat")
        # Opened inside the generator that flattens them: every batch passes through one
        # generator here, not two (each costs CPU per WebSocket frame).
        return _events_of(lambda: self._open_batches(messages, options))

    def astream_chat_batches(
        self, messages: Iterable[MessageInput] | str, **options: Unpack[ChatOptions]
    ) -> AsyncGenerator[list[ChatEvent], None]:
        """The events of :meth:`astream_chat`, in the lists that arrived together.

        Each list holds what one read from the network brought (never an empty list, never a
        wait for more): a caller that handles many events at once saves a step per event. With
        tools offered, the text held back as a possible call comes at the end, in the last
        list, with the calls (or as text) and the finish.
        Takes the same arguments and raises the same errors as :meth:`astream_chat`.
        """
        check_chat_options(options, owner="astream_chat_batches")
        return self._astream_batches(messages, options)

    async def _astream_batches(
        self, messages: Iterable[MessageInput] | str, options: ChatOptions
    ) -> AsyncGenerator[list[ChatEvent], None]:
        batches = await self._open_batches(messages, options)
        async with contextlib.aclosing(batches):
            async for batch in batches:
                yield batch

    async def _open_batches(
        self, messages: Iterable[MessageInput] | str, options: ChatOptions
    ) -> AsyncGenerator[list[ChatEvent], None]:
        """The reply's batches, not started yet: the options checked, the model resolved."""
        conversation = normalize_messages(messages)
        max_tokens = options.get("max_tokens", 2048)
        if max_tokens <= 0:
            msg = f"max_tokens must be positive, not {max_tokens!r}"
            raise ValueError(msg)
        offered = tuple(
            to_tool(tool, index) for index, tool in enumerate(options.get("tools") or ())
        )
        choice = normalize_tool_choice(options.get("tool_choice"), offered)
        resolved = await self.models.aresolve(options.get("model") or self.model)
        temperature = options.get("temperature")
        images = conversation.images
        if images:
            self.models.check_takes_images(resolved)
            if not all(image.fetched for image in images):
                fetched = await fetch_images(images, self._router.fetch_transport())
                conversation = conversation.with_images(fetched)

        def send(conversation: Conversation) -> AsyncGenerator[list[ChatEvent], None]:
            request = ChatRequest(
                conversation=conversation,
                model=resolved,
                max_tokens=max_tokens,
                temperature=temperature,
            )
            return self._retrier.stream(lambda: self._router.stream(request))

        offering_tools = bool(offered) and choice != "none"
        if offering_tools or conversation.has_tool_turns:
            # Tools, calls and results are written for the model's family (loaded only then).
            from langchain_cloudflare_playground.client.tools.offerings import (  # noqa: PLC0415
                offering_for,
                written_for,
            )

            tools = offered if offering_tools else ()
            conversation = written_for(offering_for(resolved), conversation, tools, choice)
        if offering_tools:
            from langchain_cloudflare_playground.client.tools.calling import (  # noqa: PLC0415
                stream_with_tools,
            )

            # The splitter holds back what may be a call.
            return stream_with_tools(send, conversation, offered, choice)
        return send(conversation)

    async def achat(
        self, messages: Iterable[MessageInput] | str, **options: Unpack[ChatOptions]
    ) -> ChatReply:
        """The whole reply at once; takes the same arguments as :meth:`astream_chat`."""
        text: list[str] = []
        reasoning: list[str] = []
        calls: list[ToolCall] = []
        finish: Finish | None = None
        async for event in self.astream_chat(messages, **options):
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ReasoningDelta):
                reasoning.append(event.text)
            elif isinstance(event, ToolCall):
                calls.append(event)
            else:
                finish = event
        if finish is None:  # every driver ends a stream with a Finish or an error
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

    def stream_chat(
        self, messages: Iterable[MessageInput] | str, **options: Unpack[ChatOptions]
    ) -> Iterator[ChatEvent]:
        """Synchronous twin of :meth:`astream_chat`.

        The reply is read on the client's loop thread; each step hands over everything that has
        arrived since the last, so the thread crossing costs per read, not per event.
        """
        check_chat_options(options, owner="stream_chat")
        return self._background.iterate_batches(self._astream_batches(messages, options))

    def stream_chat_batches(
        self, messages: Iterable[MessageInput] | str, **options: Unpack[ChatOptions]
    ) -> Iterator[list[ChatEvent]]:
        """Synchronous twin of :meth:`astream_chat_batches`."""
        check_chat_options(options, owner="stream_chat_batches")
        return self._background.iterate(self._astream_batches(messages, options))

    def chat(
        self, messages: Iterable[MessageInput] | str, **options: Unpack[ChatOptions]
    ) -> ChatReply:
        """Synchronous twin of :meth:`achat`."""
        check_chat_options(options, owner="chat")
        return self._background.run(self.achat(messages, **options))

    # -- models -----------------------------------------------------------------------------

    async def alist_models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """The playground's chat models, cached for ``models_ttl`` seconds.

        When the list cannot be fetched, returns the static alias table and logs a warning.
        """
        return await self.models.alist(refresh=refresh)

    def list_models(self, *, refresh: bool = False) -> list[ModelInfo]:
        """Synchronous twin of :meth:`alist_models`."""
        return self._background.run(self.alist_models(refresh=refresh))

    def cached_models(self) -> list[ModelInfo] | None:
        """The model list last fetched, however old, or ``None``; never touches the network."""
        return self.models.cached()

    async def aresolve_model(self, name: str | None) -> str:
        """The full model id for an alias, a bare name, or a full id.

        Known names cost nothing; an unknown short name fetches the live list once before
        failing with the closest names.

        Raises:
            ModelNotFoundError: the name matches no model.
        """
        return await self.models.aresolve(name)

    # -- lifecycle --------------------------------------------------------------------------

    async def aclose(self) -> None:
        """Close this loop's connections and browser, and the sync methods' background loop."""
        await self._router.aclose()
        if self._background.loop is not None:
            await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Close the sync methods' connections and stop their background loop.

        From async code use :meth:`aclose`, which closes the calling loop's connections too.
        """
        if self._background.loop is None:
            return
        with contextlib.suppress(RuntimeError):  # the loop may already be gone
            self._background.run(self._router.aclose())
        self._background.stop()

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


async def _events_of(
    open_batches: Callable[[], Awaitable[AsyncGenerator[list[ChatEvent], None]]],
) -> AsyncGenerator[ChatEvent, None]:
    """One event at a time from the batches ``open_batches()`` gives, closing them when closed."""
    batches = await open_batches()
    async with contextlib.aclosing(batches):
        async for batch in batches:
            for event in batch:
                yield event

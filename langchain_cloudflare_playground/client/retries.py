"""Retries: the policy that decides what follows a failure (pure), and the loop that applies it.

The policy owns the rules. A refusal (403, a challenge page, a refused WebSocket upgrade or TLS
handshake) climbs the transport ladder to a rung that needs no browser at once; a refused session
is replaced once (which may start a browser to get one); then the browser relay's rung is taken.
Other retryable failures wait with backoff. The loop only carries out what the policy says, and
only while nothing has reached the caller.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

from langchain_cloudflare_playground.client.errors import (
    CertificateError,
    PlaygroundAPIError,
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundStreamError,
    RateLimitError,
    is_edge_refusal,
)
from langchain_cloudflare_playground.client.events import ReasoningDelta, TextDelta
from langchain_cloudflare_playground.client.received import ReceivedText

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.router import Router
    from langchain_cloudflare_playground.client.sessions import SessionStore

__all__ = ["Attempts", "Retrier", "RetryPolicy", "Step"]

logger = logging.getLogger("langchain_cloudflare_playground")
_T = TypeVar("_T")

_RETRYABLE_STATUSES = frozenset({408, 409, 429})


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter that honours the server's ``Retry-After``.

    Attributes:
        max_retries: Tries after the first one.
        initial_delay: The first backoff, doubled on every further try.
        max_delay: The longest computed backoff.
        max_retry_after: The longest wait a server may ask for; longer requests are capped, so
            a bogus header cannot stall a caller for hours.
    """

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 60.0

    def should_retry(self, error: BaseException, retries_done: int) -> bool:
        """Whether ``error`` is worth another try, given how many were made."""
        if retries_done >= self.max_retries or isinstance(error, CertificateError):
            return False
        if isinstance(error, PlaygroundConnectionError) and error.request_delivered:
            return False  # the room has the request: again would make (and charge) a second reply
        if isinstance(error, (PlaygroundConnectionError, RateLimitError)):
            return True
        if isinstance(error, PlaygroundAPIError) and error.status is not None:
            return error.status in _RETRYABLE_STATUSES or error.status >= 500  # noqa: PLR2004
        return False

    def next_step(
        self, error: PlaygroundError, attempts: Attempts, next_rung: str | None = None
    ) -> Step:
        """What to do after ``error``, given what the call has tried so far.

        ``next_rung`` is the transport rung a climb would reach (``None`` when there is none
        that could help): one that needs no browser is tried before a fresh session, which may
        take a browser to get; the browser's own rung comes after the fresh session.
        """
        if is_edge_refusal(error):
            if next_rung is not None and next_rung != "browser":
                return Step.NEXT_TRANSPORT
            if not attempts.refreshed:
                return Step.REFRESH_SESSION
            if next_rung is not None:
                return Step.NEXT_TRANSPORT
            return Step.GIVE_UP
        if self.should_retry(error, attempts.retries):
            return Step.WAIT
        return Step.GIVE_UP

    def delay(self, retries_done: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try number ``retries_done + 1``."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_retry_after)
        backoff = min(self.initial_delay * 2.0**retries_done, self.max_delay)
        # Jitter spreads out clients that failed together, so they do not retry together.
        jitter: float = random.random()  # noqa: S311 (not cryptographic)
        return backoff * (1 - 0.25 * jitter)


class Step(enum.Enum):
    """What follows a failed try."""

    GIVE_UP = "give up"  # raise the error
    REFRESH_SESSION = "refresh the session"  # drop the refused session, try again at once
    NEXT_TRANSPORT = "next transport"  # climb the transport ladder one rung
    WAIT = "wait"  # back off, then try again


@dataclass
class Attempts:
    """What one call has tried so far."""

    retries: int = 0
    refreshed: bool = False
    generation: int = 0  # of the session the current try started with


class Retrier:
    """Carries out the policy for one client: refreshes its session, climbs its transports."""

    def __init__(self, policy: RetryPolicy, sessions: SessionStore, router: Router) -> None:
        """Retry with ``policy``, replacing sessions in ``sessions`` and climbing ``router``."""
        self.policy = policy
        self._sessions = sessions
        self._router = router

    async def call(self, call: Callable[[], Awaitable[_T]]) -> _T:
        """``call``'s result, tried again as the policy says."""
        attempts = Attempts()
        while True:
            attempts.generation = await self._session_generation()
            try:
                result = await call()
            except PlaygroundError as exc:
                await self._prepare_next_try(exc, attempts)
            else:
                self._router.worked()
                return result

    async def stream(
        self, open_stream: Callable[[], AsyncGenerator[list[ChatEvent], None]]
    ) -> AsyncGenerator[list[ChatEvent], None]:
        """The event batches of ``open_stream()``, tried again while nothing has reached the caller.

        A failure after text has arrived is a :class:`PlaygroundStreamError` that carries it.
        """
        attempts = Attempts()
        while True:
            attempts.generation = await self._session_generation()
            text = ReceivedText()
            reasoning = ReceivedText()
            answered = False
            try:
                async with contextlib.aclosing(open_stream()) as batches:
                    async for batch in batches:
                        if not answered:
                            answered = True
                            self._router.worked()
                        _keep(batch, text, reasoning)
                        yield batch
            except PlaygroundStreamError:
                raise
            except PlaygroundError as exc:
                if text or reasoning:
                    raise PlaygroundStreamError(
                        str(exc), partial_text=text.text(), partial_reasoning=reasoning.text()
                    ) from exc
                await self._prepare_next_try(exc, attempts)
            else:
                return

    async def _session_generation(self) -> int:
        """Get the session a try will use (acquiring it if need be), and say which it is."""
        if self._router.sends_session:
            await self._sessions.get()
        return self._sessions.generation

    async def _prepare_next_try(self, error: PlaygroundError, attempts: Attempts) -> None:
        """Get ready for the next try, or re-raise ``error`` when no try is left for it."""
        router = self._router
        step = self.policy.next_step(error, attempts, router.rung_for(error))
        if step is Step.REFRESH_SESSION:
            attempts.refreshed = True
            logger.info("The playground refused the session (%s); getting a fresh one", error)
            self._sessions.invalidate(generation=attempts.generation)
        elif step is Step.NEXT_TRANSPORT:
            router.climb(error)
        elif step is Step.WAIT:
            delay = self.policy.delay(attempts.retries, getattr(error, "retry_after", None))
            attempts.retries += 1
            logger.info(
                "Playground request failed (%s); retry %d of %d in %.2f s",
                error,
                attempts.retries,
                self.policy.max_retries,
                delay,
            )
            await asyncio.sleep(delay)
        elif is_edge_refusal(error):
            summary = router.all_refused(error)
            if summary is error:
                raise error
            raise summary from error
        else:
            raise error


def _keep(batch: list[ChatEvent], text: ReceivedText, reasoning: ReceivedText) -> None:
    """Keep the text and reasoning of ``batch``, for the error of a stream that fails later."""
    if len(batch) == 1:  # a WebSocket frame's batch: the same, without building lists
        event = batch[0]
        if isinstance(event, TextDelta):
            text.add(event.text)
        elif isinstance(event, ReasoningDelta):
            reasoning.add(event.text)
        return
    # A batch's pieces are kept joined: one piece per batch, not per event.
    texts = [event.text for event in batch if isinstance(event, TextDelta)]
    if texts:
        text.add("".join(texts))
    if len(texts) < len(batch):
        thoughts = [event.text for event in batch if isinstance(event, ReasoningDelta)]
        if thoughts:
            reasoning.add("".join(thoughts))

"""When to try a request again, and how long to wait first (pure)."""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.errors import (
    PlaygroundAPIError,
    PlaygroundConnectionError,
    RateLimitError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["RetryPolicy", "parse_retry_after"]

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
        if retries_done >= self.max_retries:
            return False
        if isinstance(error, (PlaygroundConnectionError, RateLimitError)):
            return True
        if isinstance(error, PlaygroundAPIError) and error.status is not None:
            return error.status in _RETRYABLE_STATUSES or error.status >= 500  # noqa: PLR2004
        return False

    def delay(self, retries_done: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try number ``retries_done + 1``."""
        if retry_after is not None and retry_after >= 0:
            return min(retry_after, self.max_retry_after)
        backoff = min(self.initial_delay * 2.0**retries_done, self.max_delay)
        # Jitter spreads out clients that failed together, so they do not retry together.
        jitter: float = random.random()  # noqa: S311 (not cryptographic)
        return backoff * (1 - 0.25 * jitter)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds from ``Retry-After`` (seconds or an HTTP date) or ``Retry-After-Ms``."""
    millis = headers.get("retry-after-ms")
    if millis is not None:
        try:
            return max(float(millis) / 1000, 0.0)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:
        import email.utils  # noqa: PLC0415 (rare: only for a Retry-After given as a date)

        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(when.timestamp() - current, 0.0)

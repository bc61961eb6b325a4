"""The one exception hierarchy of the playground client.

Every failure the client reports is a :class:`PlaygroundError`. Status failures map to one
subclass per status family through :func:`make_status_error`, so callers can catch exactly what
they can act on (a rate limit, a challenge page) and let the rest propagate.
"""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING, NoReturn

from langchain_cloudflare_playground.client.close_names import did_you_mean

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "AuthenticationError",
    "BadRequestError",
    "CertificateError",
    "ChallengeError",
    "HandshakeRefusedError",
    "ImageError",
    "ImageFetchError",
    "ImagesNotSupportedError",
    "ModelNotFoundError",
    "ModelSettingsRefusedError",
    "NotFoundError",
    "NotRecordedError",
    "PermissionDeniedError",
    "PlaygroundAPIError",
    "PlaygroundConnectionError",
    "PlaygroundError",
    "PlaygroundProtocolError",
    "PlaygroundStatusError",
    "PlaygroundStreamError",
    "PlaygroundTimeoutError",
    "RateLimitError",
    "ServerError",
    "UpgradeRefusedError",
    "WebSocketClosedError",
    "is_challenge_page",
    "is_edge_refusal",
    "make_status_error",
    "make_stream_error",
    "make_upgrade_error",
    "parse_retry_after",
    "raise_detached",
    "refused_handshake",
    "untrusted_certificate",
]

# Titles of the pages Cloudflare's bot protection serves instead of the real response.
_CHALLENGE_MARKERS = ("Just a moment", "Attention Required", "cf-challenge", "cf_chl_")
_RATE_LIMIT_PATTERN = re.compile(r"\b3021\b|rate.?limit", re.IGNORECASE)
_BODY_EXCERPT = 300


class PlaygroundError(Exception):
    """Root of every error raised by the playground client."""


class PlaygroundConnectionError(PlaygroundError):
    """The server could not be reached, or the connection broke before a reply started.

    Attributes:
        request_delivered: The server is known to hold the request (its room stored it), so
            sending it again would make a second reply: such an error is never retried.
    """

    request_delivered = False


class PlaygroundTimeoutError(PlaygroundConnectionError):
    """No byte arrived within ``timeout`` seconds (connect, first byte, or a gap in the stream)."""


# Close codes by which a server answers (refuses what it was sent) rather than goes away: a
# reply is not resumed after them. RFC 6455 section 7.4.1; 4000-4999 are the application's own.
_ANSWERING_CLOSE_CODES = frozenset({1002, 1003, 1007, 1008, 1009, 1010})


class WebSocketClosedError(PlaygroundConnectionError):
    """The server closed the WebSocket before the reply was complete.

    Attributes:
        code: The close code, when one came.
    """

    def __init__(self, message: str, code: int | None = None) -> None:
        """Closed with ``code``; ``message`` says so."""
        super().__init__(message)
        self.code = code

    @property
    def is_answer(self) -> bool:
        """Whether the code refuses what the client sent (so the close is the server's answer)."""
        code = self.code
        return code is not None and (code in _ANSWERING_CLOSE_CODES or 4000 <= code <= 4999)  # noqa: PLR2004


class CertificateError(PlaygroundConnectionError):
    """The server's TLS certificate is not trusted; trying again will not change that.

    Behind a proxy that re-signs TLS, trust its CA: ``verify="/path/to/ca.pem"`` or
    ``$SSL_CERT_FILE``.
    """


def untrusted_certificate(detail: object) -> CertificateError:
    """The error for a certificate the client does not trust, saying how to trust it."""
    return CertificateError(
        f"the playground's TLS certificate is not trusted ({detail}); if a proxy re-signs TLS,"
        " pass verify='/path/to/ca.pem' (its CA, as PEM) or set SSL_CERT_FILE"
    )


class PlaygroundProtocolError(PlaygroundError):
    """The server answered with something that is not a playground stream."""


class ModelNotFoundError(PlaygroundError, ValueError):
    """A model name that is neither a full ``@cf/``/``@hf/`` id nor a known alias."""

    def __init__(self, name: str, suggestions: list[str]) -> None:
        """Build the error with the closest known names as advice."""
        self.name = name
        self.suggestions = suggestions
        hint = " " + (
            did_you_mean(suggestions) or "Run `cf-playground models` to see the available names."
        )
        super().__init__(
            f"Unknown model {name!r}.{hint} A full id such as '@cf/meta/llama-3.1-8b-instruct-fp8'"
            " is always accepted."
        )


class ImageError(PlaygroundError, ValueError):
    """An image that cannot be sent as given.

    Empty, cut short, too large, or of a type (or a declared type) the playground's models do
    not take. Raised before anything is sent.
    """


class ImageFetchError(ImageError):
    """An ``http(s)`` image URL could not be fetched (the client fetches such images itself).

    Attributes:
        url: The image's URL.
    """

    def __init__(self, url: str, reason: str) -> None:
        """``url`` could not be fetched because of ``reason``."""
        super().__init__(
            f"could not fetch the image at {url}: {reason}. Check the URL, or download the"
            " image and pass its bytes or its path instead."
        )
        self.url = url


class ImagesNotSupportedError(PlaygroundError, ValueError):
    """The conversation holds images and the model, or the wire format, takes none.

    Raised before anything is sent.

    Attributes:
        model: The model asked for.
        vision_models: The models known to take images (empty when the wire format is the
            reason).
    """

    def __init__(self, message: str, model: str, vision_models: tuple[str, ...] = ()) -> None:
        """``message`` says why; ``vision_models`` are the models to use instead."""
        super().__init__(message)
        self.model = model
        self.vision_models = vision_models


class PlaygroundAPIError(PlaygroundError):
    """The server refused the request or reported an error in the stream.

    Attributes:
        message: What went wrong, in the server's words where it gave any.
        status: The HTTP status, or ``None`` when the error came inside a stream.
        body: The start of the response body (never more than a few hundred characters).
        retry_after: Seconds the server asked us to wait, when it said so.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Build the error; ``body`` is kept short so logs stay readable."""
        super().__init__(message)
        self.message = message
        self.status = status
        self.body = body[:_BODY_EXCERPT] if body else body
        self.retry_after = retry_after


class ModelSettingsRefusedError(PlaygroundAPIError):
    """The room would not run with a setting the call asked for, and no other way gives it.

    Over the Agents frames a room's settings (model, temperature, system prompt) are given the
    way the site takes them, and checked against what the room says its state is before any of
    the reply reaches the caller. This is raised when the model or the temperature did not take
    (a system prompt the room will not hold travels in the history instead), so the call never
    returns a reply made under settings nobody asked for.

    Attributes:
        model: The model asked for.
        settings: The settings that did not take: ``"model"``, ``"temperature"``, ``"system"``.
        state_error: Why the room state was refused, if it was.
        rpc_error: Why ``setConfig`` failed, in the server's words, if it did.
        room: What the room runs with instead (its ``model`` and ``temperature``).
    """

    def __init__(  # noqa: PLR0913 (what the message is made of)
        self,
        model: str,
        state_error: str | None = None,
        rpc_error: str | None = None,
        *,
        settings: tuple[str, ...] = ("model",),
        temperature: float | None = None,
        reasons: list[str] | None = None,
        room: dict[str, object] | None = None,
    ) -> None:
        """Build the error; the message names each setting and how each way failed."""
        named = {
            "model": f"model {model!r}",
            "temperature": f"temperature {temperature:g}" if temperature is not None else "",
            "system": "the system prompt",
        }
        what = " and ".join(named[name] for name in settings if named.get(name))
        if reasons is None:
            reasons = [
                f"it refused the room state ({state_error or 'in an earlier room'})",
                f"it refused the setConfig call ({rpc_error})",
            ]
        room = room or {}
        instead = ", ".join(f"{key} {value!r}" for key, value in room.items() if value is not None)
        advice = f" The room runs with {instead}." if instead else ""
        super().__init__(
            f"the playground would not use {what}: {'; '.join(reasons)}. Nothing of the reply"
            f" was passed on.{advice} Leave the setting out to run with the site's own."
        )
        self.model = model
        self.settings = settings
        self.state_error = state_error
        self.rpc_error = rpc_error
        self.room = room


class PlaygroundStatusError(PlaygroundAPIError):
    """A non-2xx HTTP status (``status`` is ``None`` only for a rate limit reported in a stream)."""


class BadRequestError(PlaygroundStatusError):
    """400: the server rejected the request as malformed."""


class AuthenticationError(PlaygroundStatusError):
    """401: the session is not accepted."""


class PermissionDeniedError(PlaygroundStatusError):
    """403: the session is not allowed to use the playground."""


class NotFoundError(PlaygroundStatusError):
    """404: wrong base URL, or a wire format this server does not speak."""


class NotRecordedError(NotFoundError):
    """A write-protected recording (a VCR cassette) holds nothing for this request.

    Whether the route exists is unknown: with ``wire_format="auto"`` the HTTP wire formats get
    their turn (the conversation may have been recorded over HTTP); otherwise ``refusal``, the
    recorder's own error, is what the caller sees.
    """

    def __init__(self, refusal: Exception) -> None:
        """Wrap the recorder's error."""
        super().__init__(str(refusal))
        self.refusal = refusal


class RateLimitError(PlaygroundStatusError):
    """429, or a rate-limit error inside the stream: slow down and try again later."""


class ServerError(PlaygroundStatusError):
    """5xx: the playground failed; usually worth another try."""


class ChallengeError(PlaygroundStatusError):
    """Cloudflare's bot protection answered with a challenge page instead of the playground.

    A fresh browser session usually gets past it: install the ``browser`` extra
    (``pip install "cloudflare-playground[browser]"``) and Chromium, or set ``CHROME_PATH``.
    """


class UpgradeRefusedError(ChallengeError):
    """The site refused the WebSocket upgrade itself, as it does to clients unlike a browser."""


class HandshakeRefusedError(ChallengeError):
    """The site ended the TLS handshake with an alert, as an edge does to non-browser clients."""


def refused_handshake(detail: object) -> HandshakeRefusedError:
    """The error for a TLS handshake the site refused (a rung of the transport ladder)."""
    return HandshakeRefusedError(
        f"the playground refused the TLS handshake ({detail}), as Cloudflare does to clients"
        " whose handshake is not a browser's"
    )


class PlaygroundStreamError(PlaygroundError):
    """The stream failed after text had started arriving.

    Attributes:
        partial_text: All text received before the failure, so nothing is lost.
        partial_reasoning: All reasoning received before the failure.
    """

    def __init__(self, message: str, *, partial_text: str, partial_reasoning: str = "") -> None:
        """Build the error; the message says how much arrived."""
        super().__init__(
            f"{message} (the stream broke after {len(partial_text)} characters of text;"
            " they are in .partial_text)"
        )
        self.partial_text = partial_text
        self.partial_reasoning = partial_reasoning


def raise_detached(error: PlaygroundError) -> NoReturn:
    """Raise ``error`` with no chain at all.

    For errors made from aiohttp's, whose ``request_info`` holds the request's headers (the
    session's cookies among them): ``from None`` only hides ``__context__`` from tracebacks, and
    error trackers and debuggers still reach it.
    """
    try:
        raise error from None
    finally:
        error.__context__ = None


def is_challenge_page(status: int, body: str) -> bool:
    """Tell whether a 403/503 response is Cloudflare's bot challenge rather than an answer."""
    return status in (403, 503) and any(marker in body for marker in _CHALLENGE_MARKERS)


def is_edge_refusal(error: BaseException) -> bool:
    """Whether ``error`` is the site (or its edge) turning the client away, not an answer.

    A challenge, a 403, a refused WebSocket upgrade or TLS handshake: what the transport
    ladder climbs past. A 404 is an answer (there is no such route), and is not one.
    """
    return isinstance(error, (ChallengeError, PermissionDeniedError))


_STATUS_CLASSES: dict[int, type[PlaygroundStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    429: RateLimitError,
}


def make_status_error(
    status: int, body: str, headers: Mapping[str, str], *, retry_after: float | None = None
) -> PlaygroundStatusError:
    """Map a refused HTTP response onto the error class a caller can act on."""
    if is_challenge_page(status, body):
        return ChallengeError(
            f"HTTP {status}: Cloudflare answered with a challenge page instead of the playground."
            ' A browser session gets past it: pip install "cloudflare-playground[browser]" and'
            " install Chromium (or set CHROME_PATH).",
            status=status,
            body=body,
            retry_after=retry_after,
        )
    cls = _STATUS_CLASSES.get(status, ServerError if status >= 500 else PlaygroundStatusError)  # noqa: PLR2004
    detail = _short_detail(body, headers)
    return cls(f"HTTP {status}{detail}", status=status, body=body, retry_after=retry_after)


def make_upgrade_error(status: int, headers: Mapping[str, str]) -> PlaygroundError:
    """Map a refused WebSocket upgrade (its status and lower-case headers) onto a typed error.

    Every transport that opens WebSockets reports refusals through this one function.
    """
    retry_after = parse_retry_after(headers)
    if status == 404:  # noqa: PLR2004
        return NotFoundError(
            "HTTP 404: this server has no Agents WebSocket route (/agents/playground)",
            status=status,
            retry_after=retry_after,
        )
    if status == 403 or headers.get("cf-mitigated") == "challenge":  # noqa: PLR2004
        return UpgradeRefusedError(
            f"HTTP {status}: the playground refused the WebSocket upgrade, as Cloudflare does to"
            ' clients that do not look like a browser. pip install "cloudflare-playground[browser]"'
            " and install Chromium (or set CHROME_PATH) to use a browser session.",
            status=status,
            retry_after=retry_after,
        )
    if status in (101, 200):  # answered, but not with a valid upgrade
        return PlaygroundProtocolError(f"the WebSocket handshake failed with status {status}")
    return make_status_error(status, "", {}, retry_after=retry_after)


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds from ``Retry-After`` (seconds or an HTTP date) or ``Retry-After-Ms``.

    ``headers`` are keyed by lower-case name.
    """
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


def make_stream_error(message: str) -> PlaygroundAPIError:
    """Map an error the server reported inside a stream onto a typed error."""
    if _RATE_LIMIT_PATTERN.search(message):
        return RateLimitError(message, body=message)
    return PlaygroundAPIError(message, body=message)


def _short_detail(body: str, headers: Mapping[str, str]) -> str:
    content_type = headers.get("Content-Type", "")
    if not body.strip() or "html" in content_type:
        return ""
    first_line = body.strip().splitlines()[0][:200]
    return f": {first_line}"

"""Every failure in OpenAI's error shape, with its status: the one place errors are mapped.

The body is ``{"error": {"message", "type", "param", "code"}}``, as the OpenAI API answers and its
SDKs read (they raise ``BadRequestError``, ``AuthenticationError``, ``RateLimitError``... by
status). A body never holds a traceback; the playground's own words are passed on only as the
client's errors already word them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Literal, TypedDict

from langchain_cloudflare_playground.client.errors import (
    AuthenticationError,
    BadRequestError,
    CertificateError,
    ChallengeError,
    ImageError,
    ImagesNotSupportedError,
    ModelNotFoundError,
    ModelSettingsRefusedError,
    PermissionDeniedError,
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundTimeoutError,
    RateLimitError,
    ServerError,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DEFAULT_RATE_LIMIT_RETRY_AFTER",
    "ErrorBody",
    "OpenAIError",
    "bad_request",
    "from_exception",
]

ErrorType = Literal[
    "invalid_request_error",
    "authentication_error",
    "not_found_error",
    "rate_limit_error",
    "server_error",
]
# Seconds a caller is told to wait when the playground rate-limits without saying how long.
DEFAULT_RATE_LIMIT_RETRY_AFTER = 5
_SERVICE_UNAVAILABLE = 503


class ErrorDetail(TypedDict):
    """OpenAI's error object."""

    message: str
    type: str
    param: str | None
    code: str | None


class ErrorBody(TypedDict):
    """What an error response's body (or an error event in a stream) holds."""

    error: ErrorDetail


class OpenAIError(Exception):
    """A failure answered in OpenAI's shape.

    Attributes:
        status: The HTTP status.
        message: What went wrong, for the caller.
        type: OpenAI's error type.
        param: The request field at fault, when one is.
        code: A short machine-readable code.
        headers: Extra response headers (``Retry-After``).
    """

    def __init__(  # noqa: PLR0913 (the fields of OpenAI's error object)
        self,
        status: int,
        message: str,
        *,
        type: ErrorType = "invalid_request_error",  # noqa: A002 (OpenAI's field name)
        param: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """An error of ``status`` that says ``message``."""
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.headers = dict(headers or {})

    def body(self) -> ErrorBody:
        """The response body."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }


def bad_request(message: str, param: str | None = None, code: str | None = None) -> OpenAIError:
    """A 400 for a request the server will not run as asked."""
    return OpenAIError(400, message, param=param, code=code)


def from_exception(exc: Exception) -> OpenAIError:
    """The OpenAI error for what the client (or the request's own values) raised."""
    if isinstance(exc, OpenAIError):
        return exc
    if isinstance(exc, PlaygroundError):
        return _from_playground_error(exc)
    if isinstance(exc, (ValueError, TypeError)):
        # The client refuses messages, tools or options it cannot send with these.
        return bad_request(str(exc))
    return OpenAIError(
        500, "the server failed on this request", type="server_error", code="internal_error"
    )


# What the caller asked for and cannot have: a 400 in the client's words, which say what to do
# (the closest model names, the models that see images, what is wrong with an image).
_CALLERS_MISTAKES: tuple[tuple[type[PlaygroundError], str | None, str], ...] = (
    (ImageError, "messages", "invalid_image"),
    (ImagesNotSupportedError, "model", "model_without_vision"),
    (ModelNotFoundError, "model", "model_not_found"),
    (ModelSettingsRefusedError, None, "setting_refused"),
)


def _from_playground_error(exc: PlaygroundError) -> OpenAIError:  # noqa: PLR0911 (one per family)
    message = str(exc)
    for kind, param, code in _CALLERS_MISTAKES:
        if isinstance(exc, kind):
            return bad_request(message, param, code)
    if isinstance(exc, RateLimitError):
        wait = exc.retry_after
        seconds = DEFAULT_RATE_LIMIT_RETRY_AFTER if wait is None else max(1, math.ceil(wait))
        return OpenAIError(
            429,
            f"the Cloudflare AI Playground is rate-limiting: {message}",
            type="rate_limit_error",
            code="rate_limit_exceeded",
            headers={"Retry-After": str(seconds)},
        )
    if isinstance(exc, (ChallengeError, AuthenticationError, PermissionDeniedError)):
        return _upstream(503, f"the playground refused this server's session: {message}", "refused")
    if isinstance(exc, PlaygroundTimeoutError):
        return _upstream(504, f"the playground did not answer in time: {message}", "timeout")
    if isinstance(exc, BadRequestError):
        return bad_request(f"the playground refused the request: {message}", code="upstream_400")
    if isinstance(exc, CertificateError):
        return _upstream(502, message, "certificate")
    if isinstance(exc, PlaygroundConnectionError):
        return _upstream(502, f"the playground could not be reached: {message}", "unreachable")
    if isinstance(exc, ServerError) and exc.status == _SERVICE_UNAVAILABLE:
        return _upstream(503, f"the playground is unavailable: {message}", "unavailable")
    # A wrong base URL (404), a 5xx, a stream that broke or an error inside it.
    return _upstream(502, f"the playground failed: {message}", "failed")


def _upstream(status: int, message: str, what: str) -> OpenAIError:
    return OpenAIError(status, message, type="server_error", code=f"upstream_{what}")

"""Client errors re-raised as classes that are also LangChain's own model errors.

Code that catches ``PlaygroundError`` or ``RateLimitError`` keeps working, and so does code that
catches ``langchain_core.exceptions.ModelRateLimitError`` (retry wrappers, fallbacks).
"""

from __future__ import annotations

from langchain_core import exceptions as lc

from langchain_cloudflare_playground.client import errors as client

__all__ = ["to_langchain_error"]


class PlaygroundRateLimitError(client.RateLimitError, lc.ModelRateLimitError):
    """429, or a rate limit reported in the stream."""


class PlaygroundAuthenticationError(client.AuthenticationError, lc.ModelAuthenticationError):
    """401."""


class PlaygroundPermissionDeniedError(client.PermissionDeniedError, lc.ModelPermissionDeniedError):
    """403."""


class PlaygroundChallengeError(client.ChallengeError, lc.ModelPermissionDeniedError):
    """A challenge page the session could not get past."""


class PlaygroundBadRequestError(client.BadRequestError, lc.ModelInvalidRequestError):
    """400."""


class PlaygroundNotFoundError(client.NotFoundError, lc.ModelNotFoundError):
    """404."""


class PlaygroundServerError(client.ServerError, lc.ModelAPIError):
    """5xx."""


class PlaygroundConnectionError(client.PlaygroundConnectionError, lc.ModelConnectionError):
    """The playground could not be reached."""


class PlaygroundTimeoutError(client.PlaygroundTimeoutError, lc.ModelTimeoutError):
    """The playground went quiet for longer than ``timeout``."""


class PlaygroundModelNotFoundError(client.ModelNotFoundError, lc.ModelNotFoundError):
    """An unknown model name."""


class PlaygroundModelSettingsRefusedError(
    client.ModelSettingsRefusedError, lc.ModelInvalidRequestError
):
    """The playground would not take a setting the call asked for (model, temperature)."""


class PlaygroundImageFetchError(client.ImageFetchError, lc.ModelInvalidRequestError):
    """An ``http(s)`` image of the messages could not be fetched."""


class PlaygroundImageError(client.ImageError, lc.ModelInvalidRequestError):
    """An image that cannot be sent (type, size, cut short)."""


class PlaygroundImagesNotSupportedError(
    client.ImagesNotSupportedError, lc.ModelInvalidRequestError
):
    """Images for a model without vision, or over the HTTP wire formats."""


_MAPPING: tuple[tuple[type[client.PlaygroundError], type[client.PlaygroundError]], ...] = (
    (client.RateLimitError, PlaygroundRateLimitError),
    (client.ChallengeError, PlaygroundChallengeError),
    (client.AuthenticationError, PlaygroundAuthenticationError),
    (client.PermissionDeniedError, PlaygroundPermissionDeniedError),
    (client.BadRequestError, PlaygroundBadRequestError),
    (client.NotFoundError, PlaygroundNotFoundError),
    (client.ServerError, PlaygroundServerError),
    (client.PlaygroundTimeoutError, PlaygroundTimeoutError),
    (client.PlaygroundConnectionError, PlaygroundConnectionError),
    (client.ModelNotFoundError, PlaygroundModelNotFoundError),
    (client.ModelSettingsRefusedError, PlaygroundModelSettingsRefusedError),
    (client.ImageFetchError, PlaygroundImageFetchError),
    (client.ImageError, PlaygroundImageError),
    (client.ImagesNotSupportedError, PlaygroundImagesNotSupportedError),
)


def to_langchain_error(error: client.PlaygroundError) -> client.PlaygroundError:
    """The same error as a class that is also LangChain's (or ``error`` itself if none fits)."""
    for source, target in _MAPPING:
        if type(error) is source or (isinstance(error, source) and not isinstance(error, target)):
            converted = target.__new__(target)
            converted.__dict__.update(error.__dict__)
            converted.args = error.args
            return converted
    return error

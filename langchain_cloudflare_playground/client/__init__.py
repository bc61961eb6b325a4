"""The shared playground client. It imports neither LangChain nor LlamaIndex.

Layers, each knowing only the one below:

- ``playground``: :class:`PlaygroundClient`, a thin front over named jobs: ``options`` (checked
  when the client is made), ``model_directory`` (aliases and the catalog cache), ``retries``
  (the retry policy, session refresh included) and ``router`` (which driver, which transport).
- ``drivers``: one per wire format; each encodes the request and feeds what arrives to a decoder.
- ``wire_formats``: pure encoders and decoders (server-sent events, the AI SDK data stream, the
  Agents frames).
- ``transports``: how bytes travel ("stream this HTTP request", "open this WebSocket"): aiohttp,
  the in-page browser relay, or a transport of the caller's own.
- ``sessions``: the cookies and headers of a session with the site, and their cache file;
  ``browser`` acquires them with a real Chromium.

``tools`` does tool calling over plain chat, above the drivers: the same for every wire format.
"""

import importlib
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.defaults import DEFAULT_BASE_URL, DEFAULT_MODEL
from langchain_cloudflare_playground.client.errors import (
    AuthenticationError,
    BadRequestError,
    CertificateError,
    ChallengeError,
    HandshakeRefusedError,
    ImageError,
    ImageFetchError,
    ImagesNotSupportedError,
    ModelNotFoundError,
    ModelSettingsRefusedError,
    NotFoundError,
    PermissionDeniedError,
    PlaygroundAPIError,
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundProtocolError,
    PlaygroundStatusError,
    PlaygroundStreamError,
    PlaygroundTimeoutError,
    RateLimitError,
    ServerError,
    UpgradeRefusedError,
    WebSocketClosedError,
)
from langchain_cloudflare_playground.client.events import (
    ChatEvent,
    ChatReply,
    Finish,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from langchain_cloudflare_playground.client.tools.spec import Tool, ToolCall

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client.images import ImagePart
    from langchain_cloudflare_playground.client.messages import Message
    from langchain_cloudflare_playground.client.models import ModelInfo
    from langchain_cloudflare_playground.client.playground import PlaygroundClient
    from langchain_cloudflare_playground.client.sessions import SessionCache, SiteSession
    from langchain_cloudflare_playground.client.tools import ToolResult

# The client and the session layer load on first use: importing an adapter (which needs only
# the event and error types) stays cheap next to its framework.
_LAZY = {
    "ImagePart": "langchain_cloudflare_playground.client.images",
    "Message": "langchain_cloudflare_playground.client.messages",
    "ModelInfo": "langchain_cloudflare_playground.client.models",
    "ToolResult": "langchain_cloudflare_playground.client.tools",
    "PlaygroundClient": "langchain_cloudflare_playground.client.playground",
    "SiteSession": "langchain_cloudflare_playground.client.sessions",
    "SessionArgs": "langchain_cloudflare_playground.client.sessions",  # SiteSession's former name
    "SessionCache": "langchain_cloudflare_playground.client.sessions",
    "ChatOptions": "langchain_cloudflare_playground.client.options",
    "ClientOptions": "langchain_cloudflare_playground.client.options",
    "Transport": "langchain_cloudflare_playground.client.transports",
    "AiohttpTransport": "langchain_cloudflare_playground.client.transports",
    "HttpRequest": "langchain_cloudflare_playground.client.transports",
    "HttpResponse": "langchain_cloudflare_playground.client.transports",
    "WebSocket": "langchain_cloudflare_playground.client.transports",
    "WebSocketRequest": "langchain_cloudflare_playground.client.transports",
}


def __getattr__(name: str) -> Any:  # noqa: ANN401 (module attributes of any type)
    module = _LAZY.get(name)
    if module is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(module), name)


__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MODEL",
    "AiohttpTransport",
    "AuthenticationError",
    "BadRequestError",
    "CertificateError",
    "ChallengeError",
    "ChatEvent",
    "ChatOptions",
    "ChatReply",
    "ClientOptions",
    "Finish",
    "HandshakeRefusedError",
    "HttpRequest",
    "HttpResponse",
    "ImageError",
    "ImageFetchError",
    "ImagePart",
    "ImagesNotSupportedError",
    "Message",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelSettingsRefusedError",
    "NotFoundError",
    "PermissionDeniedError",
    "PlaygroundAPIError",
    "PlaygroundClient",
    "PlaygroundConnectionError",
    "PlaygroundError",
    "PlaygroundProtocolError",
    "PlaygroundStatusError",
    "PlaygroundStreamError",
    "PlaygroundTimeoutError",
    "RateLimitError",
    "ReasoningDelta",
    "ServerError",
    "SessionCache",
    "SiteSession",
    "TextDelta",
    "Tool",
    "ToolCall",
    "ToolResult",
    "Transport",
    "UpgradeRefusedError",
    "Usage",
    "WebSocket",
    "WebSocketClosedError",
    "WebSocketRequest",
]

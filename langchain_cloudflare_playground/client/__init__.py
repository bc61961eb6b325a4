"""The shared playground client. It imports neither LangChain nor LlamaIndex.

Layers, each knowing only the one below: ``playground`` (the client) -> ``codecs`` (pure, one per
dialect) -> ``transports`` (bytes over the network) -> ``sessions`` (cookies and headers).
``tools`` does tool calling over plain chat, above the dialects: the same for all of them.
"""

import importlib
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.errors import (
    AuthenticationError,
    BadRequestError,
    ChallengeError,
    ModelNotFoundError,
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
)
from langchain_cloudflare_playground.client.events import (
    ChatEvent,
    ChatReply,
    Finish,
    ReasoningDelta,
    TextDelta,
    Usage,
)
from langchain_cloudflare_playground.client.site import DEFAULT_BASE_URL, DEFAULT_MODEL
from langchain_cloudflare_playground.client.tools.spec import Tool, ToolCall

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client.messages import Message
    from langchain_cloudflare_playground.client.models import ModelInfo
    from langchain_cloudflare_playground.client.playground import PlaygroundClient
    from langchain_cloudflare_playground.client.sessions import SessionArgs, SessionCache
    from langchain_cloudflare_playground.client.tools import ToolResult

# The client and the session layer load on first use: importing an adapter (which needs only
# the event and error types) stays cheap next to its framework.
_LAZY = {
    "Message": "langchain_cloudflare_playground.client.messages",
    "ModelInfo": "langchain_cloudflare_playground.client.models",
    "ToolResult": "langchain_cloudflare_playground.client.tools",
    "PlaygroundClient": "langchain_cloudflare_playground.client.playground",
    "SessionArgs": "langchain_cloudflare_playground.client.sessions",
    "SessionCache": "langchain_cloudflare_playground.client.sessions",
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
    "AuthenticationError",
    "BadRequestError",
    "ChallengeError",
    "ChatEvent",
    "ChatReply",
    "Finish",
    "Message",
    "ModelInfo",
    "ModelNotFoundError",
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
    "SessionArgs",
    "SessionCache",
    "TextDelta",
    "Tool",
    "ToolCall",
    "ToolResult",
    "Usage",
]

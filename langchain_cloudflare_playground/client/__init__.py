"""The shared playground client. It imports neither LangChain nor LlamaIndex.

Layers, each knowing only the one below: ``playground`` (the client) -> ``codecs`` (pure, one per
dialect) -> ``transports`` (bytes over the network) -> ``sessions`` (cookies and headers).
``tools`` does tool calling over plain chat, above the dialects: the same for all of them.
"""

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
from langchain_cloudflare_playground.client.messages import Message
from langchain_cloudflare_playground.client.models import DEFAULT_MODEL, ModelInfo
from langchain_cloudflare_playground.client.playground import DEFAULT_BASE_URL, PlaygroundClient
from langchain_cloudflare_playground.client.sessions import SessionArgs, SessionCache
from langchain_cloudflare_playground.client.tools import Tool, ToolCall, ToolResult

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

"""The Cloudflare AI Playground for LlamaIndex.

``CloudflarePlayground`` sits on the shared client in ``langchain_cloudflare_playground.client``,
which loads neither framework: importing this package never loads LangChain. The client itself,
and its network layers, load on first use. The errors and events a LlamaIndex user meets are
importable from here too.
"""

from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client import (
    ChallengeError,
    ChatEvent,
    Finish,
    ModelNotFoundError,
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundProtocolError,
    PlaygroundStreamError,
    PlaygroundTimeoutError,
    RateLimitError,
    ReasoningDelta,
    TextDelta,
    ToolCall,
)
from llama_index_cloudflare_playground.llm import CloudflarePlayground

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client import ClientOptions, PlaygroundClient

__all__ = [
    "ChallengeError",
    "ChatEvent",
    "ClientOptions",
    "CloudflarePlayground",
    "Finish",
    "ModelNotFoundError",
    "PlaygroundClient",
    "PlaygroundConnectionError",
    "PlaygroundError",
    "PlaygroundProtocolError",
    "PlaygroundStreamError",
    "PlaygroundTimeoutError",
    "RateLimitError",
    "ReasoningDelta",
    "TextDelta",
    "ToolCall",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 (module attribute hook)
    if name in ("PlaygroundClient", "ClientOptions"):  # with the client, on first use
        from langchain_cloudflare_playground import client  # noqa: PLC0415

        return getattr(client, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)

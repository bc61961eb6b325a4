"""The Cloudflare AI Playground for LangChain, on a shared framework-free client.

``from langchain_cloudflare_playground.client import PlaygroundClient`` never loads LangChain: this
package's ``__init__`` imports nothing from ``langchain_core``, so the LlamaIndex adapter and the
command line can use the client without it. The LangChain chat model arrives in a later release.
"""

from langchain_cloudflare_playground.client import (
    ChatReply,
    Finish,
    Message,
    ModelInfo,
    PlaygroundClient,
    PlaygroundError,
    ReasoningDelta,
    TextDelta,
)

__all__ = [
    "ChatReply",
    "Finish",
    "Message",
    "ModelInfo",
    "PlaygroundClient",
    "PlaygroundError",
    "ReasoningDelta",
    "TextDelta",
]
__version__ = "0.1.0"

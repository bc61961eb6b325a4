"""The Cloudflare AI Playground for LangChain, on a shared framework-free client.

``ChatCloudflarePlayground`` is imported on first use: this package's ``__init__`` loads nothing
from ``langchain_core``, so the LlamaIndex adapter and the command line use the client without it.
``PlaygroundClient`` too, and with it the network layers (aiohttp).
"""

from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client import (
    ChatReply,
    Finish,
    PlaygroundError,
    ReasoningDelta,
    TextDelta,
)

if TYPE_CHECKING:
    from langchain_cloudflare_playground.chat_models import ChatCloudflarePlayground
    from langchain_cloudflare_playground.client import Message, ModelInfo, PlaygroundClient

__all__ = [
    "ChatCloudflarePlayground",
    "ChatReply",
    "Finish",
    "Message",
    "ModelInfo",
    "PlaygroundClient",
    "PlaygroundError",
    "ReasoningDelta",
    "TextDelta",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 (module attribute hook)
    if name == "__version__":  # written once, in pyproject.toml
        from importlib.metadata import version  # noqa: PLC0415

        return version("cloudflare-playground")
    if name == "ChatCloudflarePlayground":
        from langchain_cloudflare_playground.chat_models import (  # noqa: PLC0415
            ChatCloudflarePlayground,
        )

        return ChatCloudflarePlayground
    if name in ("PlaygroundClient", "Message", "ModelInfo"):  # with the client, on first use
        from langchain_cloudflare_playground import client  # noqa: PLC0415

        return getattr(client, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)

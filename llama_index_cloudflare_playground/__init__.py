"""The Cloudflare AI Playground for LlamaIndex.

``CloudflarePlayground`` sits on the shared client in ``langchain_cloudflare_playground.client``,
which loads neither framework: importing this package never loads LangChain. The client itself,
and its network layers, load on first use.
"""

from typing import TYPE_CHECKING, Any

from llama_index_cloudflare_playground.llm import CloudflarePlayground

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client import PlaygroundClient

__all__ = ["CloudflarePlayground", "PlaygroundClient"]


def __getattr__(name: str) -> Any:  # noqa: ANN401 (module attribute hook)
    if name == "PlaygroundClient":
        from langchain_cloudflare_playground.client import PlaygroundClient  # noqa: PLC0415

        return PlaygroundClient
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)

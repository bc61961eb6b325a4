"""The Cloudflare AI Playground for LlamaIndex.

``CloudflarePlayground`` sits on the shared client in ``langchain_cloudflare_playground.client``,
which loads neither framework: importing this package never loads LangChain.
"""

from langchain_cloudflare_playground.client import PlaygroundClient
from llama_index_cloudflare_playground.llm import CloudflarePlayground

__all__ = ["CloudflarePlayground", "PlaygroundClient"]

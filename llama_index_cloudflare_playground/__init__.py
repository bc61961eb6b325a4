"""The Cloudflare AI Playground for LlamaIndex (the ``CloudflarePlayground`` LLM comes next).

It sits on the shared client in ``langchain_cloudflare_playground.client``, which loads neither
framework.
"""

from langchain_cloudflare_playground.client import PlaygroundClient

__all__ = ["PlaygroundClient"]

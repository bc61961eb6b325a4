"""Where the playground is, and the model it runs when none is named."""

from __future__ import annotations

__all__ = ["BASE_URL_ENV", "DEFAULT_BASE_URL", "DEFAULT_MODEL"]

DEFAULT_BASE_URL = "https://playground.ai.cloudflare.com"
BASE_URL_ENV = "CF_PLAYGROUND_URL"
DEFAULT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"

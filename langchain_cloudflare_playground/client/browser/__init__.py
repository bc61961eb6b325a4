"""Everything that drives a real browser, in one place (nodriver is imported only when used)."""

from langchain_cloudflare_playground.client.browser.chromium import (
    BrowserUnavailableError,
    Chromium,
    find_browser,
)
from langchain_cloudflare_playground.client.browser.session_source import (
    BrowserSessionSource,
    BrowserWithFallbackSource,
    default_session_source,
)

__all__ = [
    "BrowserSessionSource",
    "BrowserUnavailableError",
    "BrowserWithFallbackSource",
    "Chromium",
    "default_session_source",
    "find_browser",
]

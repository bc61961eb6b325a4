"""Everything that drives a real browser, in one place (nodriver is imported only when used)."""

from langchain_cloudflare_playground.client.browser.chromium import (
    BrowserUnavailableError,
    Chromium,
    find_browser,
)
from langchain_cloudflare_playground.client.browser.session_source import (
    BrowserSessionSource,
    BrowserWhenRefusedSource,
    BrowserWithFallbackSource,
    browser_available,
    default_session_source,
)

__all__ = [
    "BrowserSessionSource",
    "BrowserUnavailableError",
    "BrowserWhenRefusedSource",
    "BrowserWithFallbackSource",
    "Chromium",
    "browser_available",
    "default_session_source",
    "find_browser",
]

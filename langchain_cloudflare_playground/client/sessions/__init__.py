"""Sessions: the cookies, user agent and headers that make requests look like a browser's."""

from langchain_cloudflare_playground.client.sessions.cache import SessionCache, default_cache_path
from langchain_cloudflare_playground.client.sessions.site_session import (
    SiteSession,
    default_site_session,
)
from langchain_cloudflare_playground.client.sessions.store import (
    DefaultHeadersSource,
    SessionSource,
    SessionStore,
)

SessionArgs = SiteSession  # the former name, still importable

__all__ = [
    "DefaultHeadersSource",
    "SessionArgs",
    "SessionCache",
    "SessionSource",
    "SessionStore",
    "SiteSession",
    "default_cache_path",
    "default_site_session",
]

"""Sessions: the cookies, user agent and headers that make requests look like a browser's."""

from langchain_cloudflare_playground.client.sessions.args import SessionArgs, default_session_args
from langchain_cloudflare_playground.client.sessions.cache import SessionCache, default_cache_path
from langchain_cloudflare_playground.client.sessions.store import (
    DefaultHeadersSource,
    SessionSource,
    SessionStore,
)

__all__ = [
    "DefaultHeadersSource",
    "SessionArgs",
    "SessionCache",
    "SessionSource",
    "SessionStore",
    "default_cache_path",
    "default_session_args",
]

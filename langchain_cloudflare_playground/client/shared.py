"""Clients shared by the framework adapters' models.

Models are cheap and often made per request; sharing one client per set of connection settings
keeps one connection pool, one session and one background loop, closed when the interpreter
exits, instead of a client (and its sockets) left for the garbage collector by every model.
"""

from __future__ import annotations

import threading
from typing import Any

from langchain_cloudflare_playground.client.playground import PlaygroundClient

__all__ = ["shared_client"]

_CLIENTS: dict[tuple[Any, ...], PlaygroundClient] = {}
_LOCK = threading.Lock()


def shared_client(base_url: str | None, options: dict[str, Any]) -> PlaygroundClient:
    """The client for ``base_url`` and ``options``, made on first use."""
    key = (base_url, *sorted(options.items()))
    try:
        hash(key)
    except TypeError:  # options such as a SessionCache object: a client of its own
        return PlaygroundClient(base_url, **options)
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = PlaygroundClient(base_url, **options)
        return client

"""How ``cf-playground serve`` runs, and the check that keeps it off the network without a key."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

__all__ = ["ServeSettings", "UnsafeBindError", "check_bind", "is_loopback"]


class UnsafeBindError(ValueError):
    """The server was asked to listen beyond this machine without an API key."""


@dataclass(frozen=True, kw_only=True)
class ServeSettings:
    """The server's settings (the client's are the client's own).

    Attributes:
        host: The address to listen on; loopback by default.
        port: The port; 0 takes a free one (the listening line says which).
        api_key: The key callers must send as ``Authorization: Bearer KEY``; ``None`` lets
            every caller in, which only a loopback address allows.
        max_concurrency: Conversations in flight at once; the rest wait in the queue.
        max_queue: Conversations that may wait; past them, a 429 at once.
        max_body_bytes: The largest request body taken (a 413 past it).
        cors_origins: Browser origins allowed to call (CORS); none by default.
        shutdown_grace: Seconds that replies in flight get to finish after SIGTERM.
        access_log: Log one line per request (method, path, status; never a body or a header).
    """

    host: str = "127.0.0.1"
    port: int = 8000
    api_key: str | None = field(default=None, repr=False)
    max_concurrency: int = 16
    max_queue: int = 64
    max_body_bytes: int = 8 * 1024 * 1024
    cors_origins: tuple[str, ...] = ()
    shutdown_grace: float = 30.0
    access_log: bool = True


def is_loopback(host: str) -> bool:
    """Whether ``host`` is an address only this machine can reach."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a name: it may resolve to anything


def check_bind(settings: ServeSettings) -> None:
    """Refuse to listen beyond this machine without an API key.

    Raises:
        UnsafeBindError: ``host`` is not loopback and there is no key.
    """
    if settings.api_key is None and not is_loopback(settings.host):
        msg = (
            f"refusing to listen on {settings.host} without an API key: anyone who can reach it"
            " could use it. Pass --api-key (or set CF_PLAYGROUND_API_KEY), or listen on"
            " 127.0.0.1"
        )
        raise UnsafeBindError(msg)

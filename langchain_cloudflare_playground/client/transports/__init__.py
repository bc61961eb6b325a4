"""Transports: how bytes travel to the playground, behind one interface (see ``base``).

``aiohttp_transport`` is the default; ``browser_relay`` opens WebSockets inside a real browser
page. Both load with the first client that uses them. A transport of your own implements
:class:`~langchain_cloudflare_playground.client.transports.base.Transport` and is passed as
``PlaygroundClient(transport=...)``.
"""

from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.transports.base import (
    HttpRequest,
    HttpResponse,
    Transport,
    WebSocket,
    WebSocketRequest,
)

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client.transports.aiohttp_transport import (
        AiohttpTransport,
    )

__all__ = [
    "AiohttpTransport",
    "HttpRequest",
    "HttpResponse",
    "Transport",
    "WebSocket",
    "WebSocketRequest",
]


def __getattr__(name: str) -> Any:  # noqa: ANN401 (module attribute hook)
    if name == "AiohttpTransport":  # aiohttp loads with the first use
        from langchain_cloudflare_playground.client.transports import (  # noqa: PLC0415
            aiohttp_transport,
        )

        return aiohttp_transport.AiohttpTransport
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)

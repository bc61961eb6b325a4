"""Running the application under uvicorn, after the checks that keep it safe.

uvicorn stops on SIGTERM (and Ctrl-C) as a server should: it stops accepting connections, lets
the replies in flight finish for up to ``shutdown_grace`` seconds, cancels those still running
(which closes them upstream), and then the application closes the client.
"""

from __future__ import annotations

import gc
import math
import sys
from typing import TYPE_CHECKING

import uvicorn

from langchain_cloudflare_playground.serve.app import create_app
from langchain_cloudflare_playground.serve.settings import check_bind

if TYPE_CHECKING:
    import socket

    from langchain_cloudflare_playground.client.playground import PlaygroundClient
    from langchain_cloudflare_playground.serve.settings import ServeSettings

__all__ = ["run"]


def run(client: PlaygroundClient, settings: ServeSettings) -> None:
    """Serve ``client`` until SIGTERM or Ctrl-C; the client is closed on the way out.

    Raises:
        UnsafeBindError: a non-loopback address without an API key (checked before binding).
    """
    check_bind(settings)
    config = uvicorn.Config(
        create_app(client, settings),
        host=settings.host,
        port=settings.port,
        access_log=settings.access_log,
        timeout_graceful_shutdown=math.ceil(settings.shutdown_grace),
        lifespan="on",
        server_header=False,
        # httptools (C) parses HTTP when installed, as the serve extra does: per request it costs
        # a fraction of h11's pure Python, which showed with 100 requests at once.
        http="auto",
        loop="asyncio",
    )
    _AnnouncingServer(config).run()


class _AnnouncingServer(uvicorn.Server):
    """uvicorn, printing the address it actually took (port 0 takes a free one)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        """Start, then say where the OpenAI base URL is, on one line of standard output."""
        await super().startup(sockets)
        _tune_garbage_collector()
        if not self.servers:
            return
        host, port = self.servers[0].sockets[0].getsockname()[:2]
        shown = f"[{host}]" if ":" in host else host
        print(  # noqa: T201 (the line scripts and tests wait for)
            f"cf-playground serve: listening on http://{shown}:{port}"
            f" (OpenAI base URL: http://{shown}:{port}/v1)",
            flush=True,
        )
        sys.stdout.flush()


# A request's objects are freed by reference counting as soon as its reply ends; the cyclic
# collector only walks them. With Python's defaults (a young collection every 700 new objects,
# now and then a full one over every object in the process) it took 6-11% of the server's CPU
# in a burst of 100 requests (perf), about half of it in full walks over what startup made.
_YOUNG_COLLECTION_EVERY = 7_000  # new container objects (Python's default: 700)


def _tune_garbage_collector() -> None:
    """Keep what startup made out of every later collection, and collect the young less often.

    Everything alive once the server listens (modules, classes, the app, the client) lives as
    long as the process: ``gc.freeze`` moves it where no collection looks.
    """
    gc.collect()
    gc.freeze()
    _, older, oldest = gc.get_threshold()
    gc.set_threshold(_YOUNG_COLLECTION_EVERY, older, oldest)

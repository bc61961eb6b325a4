"""``cf-playground serve``: the playground behind an OpenAI-compatible endpoint (``serve`` extra).

The server itself is in :mod:`langchain_cloudflare_playground.serve`.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.cli.arguments import at_least, client_for, seconds
from langchain_cloudflare_playground.cli.exits import EXIT_ERROR, Terminated, UsageError
from langchain_cloudflare_playground.client import DEFAULT_MODEL

if TYPE_CHECKING:
    import argparse

    from langchain_cloudflare_playground.cli.arguments import CommandParser, Subcommands

__all__ = ["add_serve_command"]

_API_KEY_ENV = "CF_PLAYGROUND_API_KEY"
_count = at_least(1)
_queue_length = at_least(0)


def add_serve_command(commands: Subcommands, connection: CommandParser) -> None:
    """Add ``serve`` to ``commands``; it takes the ``connection`` options."""
    serve = commands.add_parser(
        "serve",
        parents=[connection],
        help="serve the playground as an OpenAI-compatible API (the 'serve' extra)",
        description=(
            "Serve POST /v1/chat/completions, GET /v1/models and GET /health, in the shapes of"
            " the OpenAI API, so that the openai SDK, ChatOpenAI, curl and any tool that speaks"
            " OpenAI can use the playground. Listens on 127.0.0.1 unless told otherwise, and"
            f" refuses any other address without an API key (--api-key or ${_API_KEY_ENV})."
            " SIGTERM stops it gracefully: no new connections, replies in flight finish within"
            " --shutdown-grace seconds."
        ),
    )
    serve.add_argument("--host", default="127.0.0.1", help="the address (default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, default=8000, help="the port; 0 takes a free one (default 8000)"
    )
    serve.add_argument(
        "--api-key",
        help=f"the key callers must send as a Bearer token (default ${_API_KEY_ENV}; the"
        " variable keeps it out of the process list)",
    )
    serve.add_argument(
        "-m",
        "--model",
        help=f"the model for requests that name none (default {DEFAULT_MODEL})",
    )
    serve.add_argument(
        "--max-concurrency",
        type=_count,
        default=16,
        help="conversations in flight at once; the rest wait (default 16)",
    )
    serve.add_argument(
        "--max-queue",
        type=_queue_length,
        default=64,
        help="conversations that may wait; past them a 429 (default 64)",
    )
    serve.add_argument(
        "--max-body-bytes",
        type=_count,
        default=8 * 1024 * 1024,
        help="the largest request body taken (default 8 MiB)",
    )
    serve.add_argument(
        "--cors-origin",
        action="append",
        default=[],
        metavar="ORIGIN",
        help="a browser origin allowed to call it (repeat for more; default: none)",
    )
    serve.add_argument(
        "--shutdown-grace",
        type=seconds,
        default=30.0,
        help="seconds replies in flight get to finish after SIGTERM (default 30)",
    )
    serve.add_argument(
        "--no-access-log", action="store_true", help="no line per request (there is never a body)"
    )
    serve.set_defaults(run=_run_serve, prog=serve.prog)


def _run_serve(args: argparse.Namespace) -> int:
    try:
        from langchain_cloudflare_playground import serve  # noqa: PLC0415 (the serve extra)
    except ModuleNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    settings = serve.ServeSettings(
        host=args.host,
        port=args.port,
        api_key=args.api_key or os.environ.get(_API_KEY_ENV) or None,
        max_concurrency=args.max_concurrency,
        max_queue=args.max_queue,
        max_body_bytes=args.max_body_bytes,
        cors_origins=tuple(args.cors_origin),
        shutdown_grace=args.shutdown_grace,
        access_log=not args.no_access_log,
    )
    try:
        serve.check_bind(settings)
    except serve.UnsafeBindError as exc:
        raise UsageError(str(exc)) from None
    try:
        serve.run(client_for(args), settings)  # the server closes the client when it stops
    except Terminated:
        # uvicorn stopped gracefully on SIGTERM, then passed the signal on: a clean stop.
        print("cf-playground serve: stopped", file=sys.stderr)
    return 0

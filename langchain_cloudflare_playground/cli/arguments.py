"""What the commands share: the parser, the argument types, the connection options, the client.

A bad value is a usage error (exit 2), caught by its argument type before anything connects.
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING, NoReturn

from langchain_cloudflare_playground.cli.exits import EXIT_USAGE, usage_line
from langchain_cloudflare_playground.client import ImageError, ImagePart, PlaygroundClient
from langchain_cloudflare_playground.client.defaults import BASE_URL_ENV, DEFAULT_BASE_URL
from langchain_cloudflare_playground.client.options import TEMPERATURE_RANGE, check_temperature

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "CommandParser",
    "at_least",
    "client_for",
    "connection_options",
    "http_url",
    "image",
    "seconds",
    "temperature",
    "token_count",
]


class CommandParser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line (and the help a command away)."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` on one line and exit 2."""
        self.exit(EXIT_USAGE, usage_line(self.prog, message) + "\n")


if TYPE_CHECKING:
    from typing import TypeAlias

    # What each command module adds its command to.
    Subcommands: TypeAlias = argparse._SubParsersAction[CommandParser]  # noqa: SLF001 (argparse has no public name for it)


# -- argument types -------------------------------------------------------------------------


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        msg = f"not a number: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    if not math.isfinite(value):
        msg = f"not a finite number: {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def seconds(text: str) -> float:
    """An argument type: a positive number of seconds."""
    value = _number(text)
    if value <= 0:
        msg = f"must be a positive number of seconds, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _whole_number(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        msg = f"invalid int value: {text!r}"
        raise argparse.ArgumentTypeError(msg) from None


def token_count(text: str) -> int:
    """An argument type: a whole number of tokens above 0."""
    value = _whole_number(text)
    if value <= 0:
        msg = f"must be a whole number of tokens above 0, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def temperature(text: str) -> float:
    """An argument type: a temperature in the client's range (Workers AI's, 0 to 5)."""
    value = _number(text)
    try:
        check_temperature(value)  # the client's own check: the range is the same everywhere
    except ValueError:
        low, high = TEMPERATURE_RANGE
        msg = f"must be from {low:g} to {high:g}, not {text!r}"
        raise argparse.ArgumentTypeError(msg) from None
    return value


def image(text: str) -> ImagePart:
    """An argument type: an image, checked now (a file, a data: URL or an http(s) URL)."""
    try:
        return ImagePart.from_source(text)
    except ImageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def http_url(text: str) -> str:
    """An argument type: an http:// or https:// URL."""
    if not text.startswith(("http://", "https://")):
        msg = f"must start with http:// or https://, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return text


def at_least(lowest: int) -> Callable[[str], int]:
    """An argument type: a whole number of ``lowest`` or more."""

    def whole_number(text: str) -> int:
        value = _whole_number(text)
        if value < lowest:
            msg = f"must be {lowest} or more, not {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return whole_number


# -- connecting -----------------------------------------------------------------------------


def connection_options(*, timeout: float) -> CommandParser:
    """The options every command that connects takes (``timeout``: the default, in seconds)."""
    connection = CommandParser(add_help=False)
    connection.add_argument(
        "--base-url",
        type=http_url,
        help=f"the playground's URL (default: ${BASE_URL_ENV}, then {DEFAULT_BASE_URL})",
    )
    connection.add_argument(
        "--wire-format",
        choices=("auto", "agents", "http"),
        default="auto",
        help="agents: the live site's WebSocket; http: the older playground's; auto: agents first",
    )
    # The option's former name and value, still accepted.
    connection.add_argument(
        "--dialect",
        dest="wire_format",
        choices=("auto", "websocket", "agents", "http"),
        type=lambda value: "agents" if value == "websocket" else value,
        help=argparse.SUPPRESS,
    )
    connection.add_argument(
        "--timeout", type=seconds, default=timeout, help=f"seconds, above 0 (default {timeout:g})"
    )
    connection.add_argument("--proxy", help="an HTTP proxy URL, e.g. http://127.0.0.1:8888")
    connection.add_argument(
        "--transport",
        choices=("auto", "direct", "impersonate", "browser"),
        default="auto",
        help=(
            "how bytes travel: direct (aiohttp), impersonate (Chrome's TLS handshake, curl_cffi),"
            " browser (a Chromium page); auto climbs from direct when refused (default)"
        ),
    )
    connection.add_argument(
        "--ca-bundle",
        metavar="PEM",
        help="trust the CA certificates in this PEM file (a proxy that re-signs TLS)",
    )
    return connection


def client_for(args: argparse.Namespace) -> PlaygroundClient:
    """The client the connection options (and ``--model``, where a command has it) describe."""
    return PlaygroundClient(
        args.base_url,
        model=getattr(args, "model", None),
        wire_format=args.wire_format,
        timeout=args.timeout,
        proxy=args.proxy,
        transport=args.transport,
        verify=args.ca_bundle or True,
    )

"""``cf-playground session``: show, refresh or clear the cached session (cookie names only)."""

from __future__ import annotations

import asyncio
import os
import sys
import time
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.cli.arguments import http_url
from langchain_cloudflare_playground.cli.exits import EXIT_ERROR
from langchain_cloudflare_playground.client import SessionCache, SiteSession
from langchain_cloudflare_playground.client.browser import BrowserSessionSource
from langchain_cloudflare_playground.client.defaults import BASE_URL_ENV, DEFAULT_BASE_URL

if TYPE_CHECKING:
    import argparse

    from langchain_cloudflare_playground.cli.arguments import Subcommands
    from langchain_cloudflare_playground.client.sessions.cache import (
        RememberedSettingsWay,
        RememberedTransport,
    )

__all__ = ["add_session_command"]


def add_session_command(commands: Subcommands) -> None:
    """Add ``session`` to ``commands``."""
    session = commands.add_parser(
        "session",
        help="show, refresh or clear the cached session",
        description=(
            "show: where the cache is, what it holds (cookie names only, never values) and when"
            " it expires; refresh: get a fresh session from a browser now; clear: forget it."
        ),
    )
    session.add_argument("action", choices=("show", "refresh", "clear", "path"))
    session.add_argument(
        "--base-url",
        type=http_url,
        help=f"the playground (default: ${BASE_URL_ENV}, then {DEFAULT_BASE_URL})",
    )
    session.add_argument(
        "--headful",
        action="store_true",
        help="refresh with a visible browser window (needs a display; see xvfb-run)",
    )
    session.set_defaults(run=_run_session, prog=session.prog)


def _run_session(args: argparse.Namespace) -> int:
    cache = SessionCache()
    base_url = (args.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    if args.action == "path":
        print(cache.path)
    elif args.action == "clear":
        if not cache.clear(base_url if args.base_url else None):
            print(f"error: could not remove {cache.path}", file=sys.stderr)
            return EXIT_ERROR
        print(f"cleared {cache.path}" + (f" for {base_url}" if args.base_url else ""))
    elif args.action == "refresh":
        if args.headful and not _has_display():
            # Checked here: the browser itself only says it "exited at start-up".
            again = "xvfb-run cf-playground session refresh --headful" + (
                f" --base-url {args.base_url}" if args.base_url else ""
            )
            print(
                "error: --headful needs a display, and neither $DISPLAY nor $WAYLAND_DISPLAY is"
                f" set; run it on a virtual one: {again} (or refresh without --headful)",
                file=sys.stderr,
            )
            return EXIT_ERROR
        source = BrowserSessionSource(headless=not args.headful)
        session = asyncio.run(source.acquire(base_url))
        if not cache.save(base_url, session):
            print(f"error: could not write {cache.path}", file=sys.stderr)
            return EXIT_ERROR
        print(f"{base_url}: fresh browser session saved to {cache.path}")
        _print_session(session)
    else:
        _show_cache(cache)
    return 0


def _show_cache(cache: SessionCache) -> None:
    entries, rungs, ways = cache.entries(), cache.transports(), cache.settings_ways()
    print(f"cache: {cache.path}")
    if not entries and not rungs and not ways:
        print("no cached session")
    for url in sorted(entries.keys() | rungs.keys() | ways.keys()):
        print(f"{url}:")
        if url in entries:
            _print_session(entries[url])
        if url in rungs:
            _print_transport(rungs[url])
        if url in ways:
            _print_settings_way(ways[url])


def _has_display() -> bool:
    """Whether a browser window can open: always on macOS and Windows, else per X11/Wayland."""
    if sys.platform in {"darwin", "win32"}:
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _print_transport(remembered: RememberedTransport) -> None:
    until = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(remembered.until))
    state = "expired" if remembered.is_expired() else "the next run starts there"
    print(f"  transport:  {remembered.rung} (worked last; remembered until {until}, {state})")


def _print_settings_way(remembered: RememberedSettingsWay) -> None:
    until = time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(remembered.until))
    state = "expired" if remembered.is_expired() else "the next run goes straight to it"
    print(f"  settings:   {remembered.way.describe()}")
    print(f"              (learned; remembered until {until}, {state})")


def _print_session(session: SiteSession) -> None:
    # Cookie names only: the values are secrets.
    expires = session.expires_at
    when = (
        "never (session cookies)"
        if expires is None
        else time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(expires))
        + (" (expired)" if session.is_expired() else "")
    )
    print(f"  source:     {session.source}")
    print(f"  user agent: {session.user_agent}")
    print(f"  cookies:    {', '.join(sorted(session.cookies)) or '(none)'}")
    print(f"  expires:    {when}")

"""``cf-playground doctor``: check each layer down to the playground, and say which one broke.

The checks themselves are in :mod:`langchain_cloudflare_playground.doctor`.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.cli.arguments import connection_options
from langchain_cloudflare_playground.cli.exits import EXIT_ERROR

if TYPE_CHECKING:
    import argparse

    from langchain_cloudflare_playground.cli.arguments import Subcommands

__all__ = ["add_doctor_command"]


def add_doctor_command(commands: Subcommands) -> None:
    """Add ``doctor`` to ``commands``, with connection options of its own (a shorter timeout)."""
    doctor = commands.add_parser(
        "doctor",
        parents=[connection_options(timeout=20.0)],
        help="check each layer down to the playground, and say which one broke",
        description=(
            "Check, in order: the name resolves; TCP and TLS connect; the page loads or is a"
            " challenge; each transport rung installed (direct, impersonate) for the WebSocket"
            " upgrade and an HTTP request, and the browser rung only when the edge refuses the"
            " one below it, as auto climbs to it; the wire format the site speaks; the"
            " model list; one short chat; the session cache. Each line has a verdict (ok,"
            " refused, failed, skipped) and why; the last line is advice for the first failure."
            " Cookie values and proxy passwords are never printed."
        ),
        epilog="Exit codes: 0 a chat worked, 1 it did not, 2 a usage error.",
    )
    doctor.add_argument(
        "--json", action="store_true", help="print one JSON object (for a bug report)"
    )
    doctor.set_defaults(run=_run_doctor, prog=doctor.prog)


def _run_doctor(args: argparse.Namespace) -> int:
    from langchain_cloudflare_playground.doctor import (  # noqa: PLC0415
        DoctorSettings,
        as_json,
        as_text,
        diagnose,
    )

    settings = DoctorSettings(
        base_url=args.base_url,
        transport=args.transport,
        wire_format=args.wire_format,
        timeout=args.timeout,
        proxy=args.proxy,
        verify=args.ca_bundle or True,
    )
    diagnosis = asyncio.run(diagnose(settings))
    print(as_json(diagnosis) if args.json else as_text(diagnosis))
    return 0 if diagnosis.chat_worked else EXIT_ERROR

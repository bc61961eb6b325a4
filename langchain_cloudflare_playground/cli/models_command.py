"""``cf-playground models``: the playground's chat models, as a table or as JSON."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.cli.arguments import client_for
from langchain_cloudflare_playground.cli.exits import EXIT_ERROR
from langchain_cloudflare_playground.collected_warnings import collected_warnings

if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable

    from langchain_cloudflare_playground.cli.arguments import CommandParser, Subcommands
    from langchain_cloudflare_playground.client.models import ModelInfo

__all__ = ["add_models_command"]


def add_models_command(commands: Subcommands, connection: CommandParser) -> None:
    """Add ``models`` to ``commands``; it takes the ``connection`` options."""
    models = commands.add_parser(
        "models",
        parents=[connection],
        help="list the chat models",
        description=(
            "List the playground's chat models: alias, id, context window, and whether each"
            " takes images (vision), is flagged for tools, reasons before it answers, and is"
            " flagged for the Workers Paid plan. The filters combine; when none of the models"
            " matches, it says so and the exit code is 1. When the list cannot be fetched, the"
            " built-in table is printed instead and the exit code is 1, unless --allow-builtin is"
            " given."
        ),
    )
    models.add_argument("--json", action="store_true", help="print JSON for scripts")
    models.add_argument("--vision", action="store_true", help="only models that take images")
    models.add_argument(
        "--tools", action="store_true", help="only models the catalog flags for function calling"
    )
    models.add_argument(
        "--reasoning", action="store_true", help="only models that think before they answer"
    )
    models.add_argument(
        "--free", action="store_true", help="leave out models flagged for Workers Paid only"
    )
    models.add_argument("--refresh", action="store_true", help="ignore the in-memory list")
    models.add_argument(
        "--allow-builtin",
        action="store_true",
        help="exit 0 with the built-in table when the playground's list cannot be fetched",
    )
    models.set_defaults(run=_run_models, prog=models.prog)


# The filters of `cf-playground models`, by flag; a model is listed when it passes every one given.
_MODEL_FILTERS: tuple[tuple[str, Callable[[ModelInfo], bool]], ...] = (
    ("--vision", lambda m: m.vision),
    ("--tools", lambda m: m.function_calling),
    ("--reasoning", lambda m: m.reasoning),
    ("--free", lambda m: not m.paid_only),
)


def _run_models(args: argparse.Namespace) -> int:
    with collected_warnings() as warnings, client_for(args) as client:
        listed = client.list_models(refresh=args.refresh)
        failure = client.models.fetch_error  # set: the built-in table came back
    chosen = [(flag, test) for flag, test in _MODEL_FILTERS if getattr(args, flag[2:])]
    models = [m for m in listed if all(test(m) for _, test in chosen)]
    _print_models(models, as_json=args.json)
    status = 0
    if chosen and not models:
        flags = " ".join(flag for flag, _ in chosen)
        print(f"note: none of the {len(listed)} models listed matches {flags}", file=sys.stderr)
        status = EXIT_ERROR
    if failure is None:
        for message in warnings:
            print(f"warning: {message}", file=sys.stderr)
        return status
    builtin = (
        "the list above is the built-in table, not the playground's own (could not fetch the"
        f" list from {client.base_url}: {failure})"
    )
    if args.allow_builtin:
        print(f"note: {builtin}", file=sys.stderr)
        return status
    print(f"error: {builtin}; --allow-builtin accepts it", file=sys.stderr)
    return EXIT_ERROR


def _print_models(models: list[ModelInfo], *, as_json: bool) -> None:
    if as_json:
        payload = [
            {
                "id": m.id,
                "alias": m.alias,
                "description": m.description,
                "task": m.task,
                "context_window": m.context_window,
                "vision": m.vision,
                "function_calling": m.function_calling,
                "reasoning": m.reasoning,
                "paid_only": m.paid_only,
                "properties": dict(m.properties),
            }
            for m in models
        ]
        print(json.dumps(payload, indent=2))
        return
    rows: list[tuple[str, ...]] = [
        ("ALIAS", "MODEL ID", "CONTEXT", "VISION", "TOOLS", "REASONING", "PAID")
    ]
    for m in sorted(models, key=lambda m: m.alias):
        flags = (m.vision, m.function_calling, m.reasoning, m.paid_only)
        context = "-" if m.context_window is None else str(m.context_window)
        rows.append((m.alias, m.id, context, *("yes" if on else "-" for on in flags)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        )
    sys.stdout.flush()  # the table before any note on stderr, on a terminal

"""``cf-playground``: chat with the playground, list its models, manage the session, diagnose.

``doctor`` checks each layer down to the site and says which one broke; ``serve`` puts the
playground behind an OpenAI-compatible endpoint (the ``serve`` extra).

It uses only the shared client, so it starts without loading LangChain or LlamaIndex.

Exit codes: 0 success; 1 an error (one line on stderr); 2 a usage error (one line on stderr);
130 interrupted (Ctrl-C, also at the interactive chat's prompt).

One module per command (``chat_command``, ``models_command``, ``session_command``,
``doctor_command``, ``serve_command``), each adding its subcommand to the parser built here;
``arguments`` holds what they share (the parser class, the argument types, the connection
options), and ``exits`` the exit codes and the exceptions that end a run with one.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.cli.arguments import CommandParser, connection_options
from langchain_cloudflare_playground.cli.chat_command import add_chat_command
from langchain_cloudflare_playground.cli.doctor_command import add_doctor_command
from langchain_cloudflare_playground.cli.exits import (
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    Terminated,
    UsageError,
    raise_terminated,
    usage_line,
)
from langchain_cloudflare_playground.cli.models_command import add_models_command
from langchain_cloudflare_playground.cli.serve_command import add_serve_command
from langchain_cloudflare_playground.cli.session_command import add_session_command
from langchain_cloudflare_playground.client import PlaygroundError, PlaygroundStreamError

if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911 (one exit code per way a run ends)
    """Run the command line; returns the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    # Python's default for SIGTERM ends the process at once: a browser it started would keep
    # running and its profile folder would stay. Unwinding closes the client and stops it.
    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        return int(args.run(args))
    except Terminated:
        print("terminated", file=sys.stderr)
        return EXIT_TERMINATED
    except UsageError as exc:
        print(usage_line(args.prog, str(exc)), file=sys.stderr)
        return EXIT_USAGE
    except PlaygroundStreamError as exc:
        sys.stdout.flush()
        print(f"\nerror: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader left (`cf-playground models | head`): nothing to report. Point stdout at
        # devnull so the interpreter's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (PlaygroundError, ValueError, TypeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:  # None: a handler not installed from Python, left as it was
            signal.signal(signal.SIGTERM, previous)


def _build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="cf-playground",
        description="Chat with the models of the Cloudflare AI Playground, without an API key.",
        epilog="Exit codes: 0 done, 1 an error, 2 a usage error, 130 interrupted (Ctrl-C).",
    )
    connection = connection_options(timeout=300.0)
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    add_chat_command(commands, connection)
    add_models_command(commands, connection)
    add_session_command(commands)
    add_doctor_command(commands)
    add_serve_command(commands, connection)
    return parser

"""``cf-playground``: chat with the playground, list its models, manage the session, diagnose.

``doctor`` checks each layer down to the site and says which one broke; ``serve`` puts the
playground behind an OpenAI-compatible endpoint (the ``serve`` extra).

It uses only the shared client, so it starts without loading LangChain or LlamaIndex.

Exit codes: 0 success; 1 an error (one line on stderr); 2 a usage error (one line on stderr);
130 interrupted (Ctrl-C, also at the interactive chat's prompt).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import signal
import sys
import time
from typing import TYPE_CHECKING, NoReturn, TextIO

from langchain_cloudflare_playground.client import (
    DEFAULT_MODEL,
    ImageError,
    ImagePart,
    Message,
    PlaygroundClient,
    PlaygroundError,
    PlaygroundStreamError,
    ReasoningDelta,
    SessionCache,
    SiteSession,
    TextDelta,
)
from langchain_cloudflare_playground.client.browser import BrowserSessionSource
from langchain_cloudflare_playground.client.defaults import BASE_URL_ENV, DEFAULT_BASE_URL
from langchain_cloudflare_playground.collected_warnings import collected_warnings

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.models import ModelInfo
    from langchain_cloudflare_playground.client.sessions.cache import (
        RememberedSettingsWay,
        RememberedTransport,
    )

__all__ = ["main"]

_EXIT_ERROR = 1
_EXIT_USAGE = 2
_EXIT_INTERRUPTED = 130
_EXIT_TERMINATED = 128 + signal.SIGTERM


class _Terminated(BaseException):
    """SIGTERM, raised where the program is, so that everything it opened closes on the way out.

    A BaseException, like KeyboardInterrupt: no ``except Exception`` on the way swallows it.
    """


def _terminate(_signum: int, _frame: object) -> None:
    raise _Terminated


_MAX_TEMPERATURE = 2.0
_HELP = """\
/help   this list
/reset  forget the conversation so far (the system prompt stays)
/image PATH_OR_URL  attach an image to your next message (again for more; vision models)
/exit   leave (also /quit, or Ctrl-D)
Ctrl-C stops a reply and returns to the prompt; at the prompt it leaves (exit code 130).
A line that starts with // is sent as a message, with one slash less."""
_COMMANDS = ("/help", "/reset", "/image", "/exit", "/quit")
_COMMAND_WORD = re.compile(r"/[A-Za-z][\w-]*")


class _UsageError(Exception):
    """A usage error found after parsing (an empty prompt): exit 2, as argparse's own are."""


class _Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line (and the help a command away)."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: error: message`` on one line and exit 2."""
        self.exit(_EXIT_USAGE, _usage_line(self.prog, message) + "\n")


def _usage_line(prog: str, message: str) -> str:
    return f"{prog}: error: {message} (see {prog} --help)"


def main(argv: Sequence[str] | None = None) -> int:  # noqa: PLR0911 (one exit code per way a run ends)
    """Run the command line; returns the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    # Python's default for SIGTERM ends the process at once: a browser it started would keep
    # running and its profile folder would stay. Unwinding closes the client and stops it.
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        return int(args.run(args))
    except _Terminated:
        print("terminated", file=sys.stderr)
        return _EXIT_TERMINATED
    except _UsageError as exc:
        print(_usage_line(args.prog, str(exc)), file=sys.stderr)
        return _EXIT_USAGE
    except PlaygroundStreamError as exc:
        sys.stdout.flush()
        print(f"\nerror: {exc}", file=sys.stderr)
        return _EXIT_ERROR
    except BrokenPipeError:
        # The reader left (`cf-playground models | head`): nothing to report. Point stdout at
        # devnull so the interpreter's final flush does not complain either.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (PlaygroundError, ValueError, TypeError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return _EXIT_ERROR
    except KeyboardInterrupt:
        print(file=sys.stderr)
        return _EXIT_INTERRUPTED
    finally:
        if previous is not None:  # None: a handler not installed from Python, left as it was
            signal.signal(signal.SIGTERM, previous)


# -- argument types: a bad value is a usage error (exit 2), caught before anything connects --


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


def _seconds(text: str) -> float:
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


def _token_count(text: str) -> int:
    value = _whole_number(text)
    if value <= 0:
        msg = f"must be a whole number of tokens above 0, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _temperature(text: str) -> float:
    value = _number(text)
    if not 0 <= value <= _MAX_TEMPERATURE:
        msg = f"must be from 0 to {_MAX_TEMPERATURE:g}, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return value


def _image(text: str) -> ImagePart:
    try:
        return ImagePart.from_source(text)
    except ImageError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _http_url(text: str) -> str:
    if not text.startswith(("http://", "https://")):
        msg = f"must start with http:// or https://, not {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return text


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="cf-playground",
        description="Chat with the models of the Cloudflare AI Playground, without an API key.",
        epilog="Exit codes: 0 done, 1 an error, 2 a usage error, 130 interrupted (Ctrl-C).",
    )
    connection = _connection_options(timeout=300.0)
    commands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")

    chat = commands.add_parser(
        "chat",
        parents=[connection],
        help="stream a reply; with no prompt, open an interactive chat",
        description=(
            "Stream a reply to PROMPT. With no PROMPT: read it from standard input when that is"
            " not a terminal (a pipe or a file), else open an interactive chat (/help lists its"
            " commands)."
        ),
    )
    chat.add_argument(
        "prompt",
        nargs="?",
        help="what to say; - reads it from standard input (omit for an interactive chat)",
    )
    chat.add_argument("-m", "--model", help=f"an alias or full id (default {DEFAULT_MODEL})")
    chat.add_argument("-s", "--system", help="a system prompt")
    chat.add_argument(
        "--max-tokens", type=_token_count, default=2048, help="above 0 (default 2048)"
    )
    chat.add_argument(
        "--temperature",
        type=_temperature,
        help=f"0 to {_MAX_TEMPERATURE:g} (default: the playground's)",
    )
    chat.add_argument(
        "--hide-reasoning", action="store_true", help="do not print the model's reasoning"
    )
    chat.add_argument(
        "--image",
        action="append",
        type=_image,
        default=[],
        metavar="PATH_OR_URL",
        help="an image sent with the prompt (repeatable; vision models): a file, a data: URL,"
        " or an http(s) URL (fetched here, through --proxy); at most 5 MiB, PNG/JPEG/WebP/GIF",
    )
    chat.add_argument(
        "-i",
        "--interactive",
        action="store_true",
        help="chat even when standard input is not a terminal: one message per line",
    )
    chat.set_defaults(run=_run_chat, prog=chat.prog)

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
        type=_http_url,
        help=f"the playground (default: ${BASE_URL_ENV}, then {DEFAULT_BASE_URL})",
    )
    session.add_argument(
        "--headful",
        action="store_true",
        help="refresh with a visible browser window (needs a display; see xvfb-run)",
    )
    session.set_defaults(run=_run_session, prog=session.prog)

    doctor = commands.add_parser(
        "doctor",
        parents=[_connection_options(timeout=20.0)],
        help="check each layer down to the playground, and say which one broke",
        description=(
            "Check, in order: the name resolves; TCP and TLS connect; the page loads or is a"
            " challenge; each transport rung (direct, impersonate, browser: the ones installed)"
            " for the WebSocket upgrade and an HTTP request; the wire format the site speaks; the"
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
    _add_serve_command(commands, connection)
    return parser


def _connection_options(*, timeout: float) -> _Parser:
    """The options every command that connects takes (``timeout``: the default, in seconds)."""
    connection = _Parser(add_help=False)
    connection.add_argument(
        "--base-url",
        type=_http_url,
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
        "--timeout", type=_seconds, default=timeout, help=f"seconds, above 0 (default {timeout:g})"
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


def _client(args: argparse.Namespace) -> PlaygroundClient:
    return PlaygroundClient(
        args.base_url,
        model=getattr(args, "model", None),
        wire_format=args.wire_format,
        timeout=args.timeout,
        proxy=args.proxy,
        transport=args.transport,
        verify=args.ca_bundle or True,
    )


# -- chat -----------------------------------------------------------------------------------


def _run_chat(args: argparse.Namespace) -> int:
    prompt = _one_prompt(args)
    history: list[Message] = []
    if args.system:
        history.append(Message("system", args.system))
    with _client(args) as client:
        if prompt is None:
            return _interactive(client, history, args)
        reply = _Reply(args)
        try:
            reply.stream(client, [*history, Message("user", prompt, images=tuple(args.image))])
        except KeyboardInterrupt:
            reply.end_line()
            print("interrupted", file=sys.stderr)
            return _EXIT_INTERRUPTED
        return 0


def _one_prompt(args: argparse.Namespace) -> str | None:
    """The prompt to send once, or ``None`` for an interactive chat.

    As ``llm`` and ``curl -d @-`` do, a prompt too big for the command line (the shell's
    argument limit) comes on standard input: when it is not a terminal and there is no PROMPT,
    or when PROMPT is ``-``.
    """
    prompt: str | None = args.prompt
    if args.interactive:
        if prompt is not None:
            msg = "--interactive takes no PROMPT"
            raise _UsageError(msg)
        return None
    if prompt == "-" or (prompt is None and not sys.stdin.isatty()):
        if sys.stdin.isatty():
            print("(reading the prompt from the terminal; end it with Ctrl-D)", file=sys.stderr)
        prompt = sys.stdin.read()
        if not prompt.strip():
            msg = "the prompt read from standard input is empty"
            raise _UsageError(msg)
        return prompt
    if prompt is not None and not prompt.strip():
        msg = "the prompt is empty"
        raise _UsageError(msg)
    return prompt


def _interactive(client: PlaygroundClient, history: list[Message], args: argparse.Namespace) -> int:
    recall = sys.stdin.isatty() and _enable_line_editing()
    print("Chatting with the Cloudflare AI Playground. /help lists the commands, /exit leaves.")
    start = len(history)  # the system prompt survives /reset
    pending: list[ImagePart] = list(args.image)  # for the next message
    while True:
        try:
            line = input("you> ")
        except EOFError:  # Ctrl-D, or the end of piped input
            print()
            return 0
        except KeyboardInterrupt:  # Ctrl-C at the prompt: leave, as a shell's `read` does
            print()
            return _EXIT_INTERRUPTED
        command, _, rest = line.strip().partition(" ")
        if command == "/image":
            _attach(rest.strip(), pending)
            continue
        if _COMMAND_WORD.fullmatch(command):
            if _run_command(command, rest, history, start):
                return 0
            continue
        if line.startswith("//"):
            line = line[1:]
        if line.strip():
            images, pending[:] = tuple(pending), []
            message = Message("user", line, images=images)
            if not _take_turn(client, history, message, args, recall=recall):
                pending[:] = images  # a turn that did not complete gives its images back


def _attach(source: str, pending: list[ImagePart]) -> None:
    """``/image PATH_OR_URL``: check the image now, send it with the next message."""
    if not source:
        print("error: /image takes a file path, a data: URL or an http(s) URL", file=sys.stderr)
        return
    try:
        pending.append(ImagePart.from_source(source))
    except ImageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return
    what = "image" if len(pending) == 1 else f"{len(pending)} images"
    print(f"[{what} attached to your next message]")


def _run_command(command: str, rest: str, history: list[Message], start: int) -> bool:
    """Run a /command of the interactive chat; True to leave."""
    if command not in _COMMANDS:
        print(
            f"error: no command {command}; the commands are {', '.join(_COMMANDS)}"
            " (start a message with // to send it with a leading /)",
            file=sys.stderr,
        )
    elif rest.strip():
        print(f"error: {command} takes nothing after it", file=sys.stderr)
    elif command in {"/exit", "/quit"}:
        return True
    elif command == "/help":
        print(_HELP)
    else:  # /reset
        forgotten = len(history) - start
        del history[start:]
        kept = " (the system prompt is kept)" if start else ""
        print(f"history cleared: {forgotten} message(s) forgotten{kept}")
    return False


def _take_turn(
    client: PlaygroundClient,
    history: list[Message],
    message: Message,
    args: argparse.Namespace,
    *,
    recall: bool,
) -> bool:
    """Send ``message``, stream the reply, and keep both in ``history`` if the reply completes.

    Returns whether it did.
    """
    history.append(message)
    reply = _Reply(args)
    try:
        text = reply.stream(client, history)
    except KeyboardInterrupt:
        # As `llm` does: a reply joins the conversation only once it is complete (llm's
        # Response adds itself to the conversation after its last chunk), so a stopped turn,
        # the message and the partial reply, is dropped from the history, as a failed one is
        # below. The partial text stays on screen; a half reply kept in the history would be
        # taken by the model as all it had to say.
        del history[-1]
        reply.end_line()
        hint = "; the up arrow recalls your message" if recall else ""
        print(f"[reply stopped; this exchange is dropped from the history{hint}]", file=sys.stderr)
        return False
    except PlaygroundError as exc:
        del history[-1]  # the turn failed; the user can try again
        reply.end_line()
        print(f"error: {exc}", file=sys.stderr)
        return False
    history.append(Message("assistant", text))
    return True


def _enable_line_editing() -> bool:
    """Line editing and an up-arrow history for ``input()``, for this session only.

    Nothing is read from or written to a history file. False when there is no ``readline``.
    """
    try:
        import readline  # noqa: F401, PLC0415 (importing it is what makes input() use it)
    except ImportError:  # a Python built without it (Windows has its own line editing)
        return False
    return True


class _Reply:
    """One streamed reply: the text to stdout, the reasoning to stderr."""

    def __init__(self, args: argparse.Namespace, out: TextIO | None = None) -> None:
        self._args = args
        self._out = out or sys.stdout
        self._text: list[str] = []
        self._in_reasoning = False
        self._line_open = False  # something was written with no newline after it

    def stream(self, client: PlaygroundClient, messages: list[Message]) -> str:
        """Stream the reply to ``messages``; return its text."""
        # What arrived together is written together, with one flush: a flush per event would
        # cost more than the event.
        for batch in client.stream_chat_batches(
            messages, max_tokens=self._args.max_tokens, temperature=self._args.temperature
        ):
            self._write(batch)
            sys.stderr.flush()
            self._out.flush()
        self._end_reasoning()
        self._out.write("\n")
        self._line_open = False
        return "".join(self._text)

    def _write(self, batch: list[ChatEvent]) -> None:
        text: list[str] = []  # a run of text deltas, written at once
        for event in batch:
            if isinstance(event, TextDelta):
                text.append(event.text)
            elif isinstance(event, ReasoningDelta) and not self._args.hide_reasoning:
                self._write_text(text)
                text = []
                # Reasoning goes to stderr so stdout holds the reply alone.
                # Each flag is set before its write: a Ctrl-C right after the write (the
                # user saw the text and pressed it) must find the line open.
                if not self._in_reasoning:
                    self._in_reasoning = True
                    sys.stderr.write("[reasoning] ")
                sys.stderr.write(event.text)
        self._write_text(text)

    def _write_text(self, pieces: list[str]) -> None:
        if pieces:
            self._end_reasoning()
            text = "".join(pieces)
            self._text.append(text)
            self._line_open = True
            self._out.write(text)

    def end_line(self) -> None:
        """End a line the reply left open, so that a note that follows starts on its own."""
        self._end_reasoning()
        if self._line_open:
            self._out.write("\n")
            self._out.flush()
            self._line_open = False

    def _end_reasoning(self) -> None:
        if self._in_reasoning:
            sys.stderr.write("\n")
            sys.stderr.flush()
            self._in_reasoning = False


# -- models ---------------------------------------------------------------------------------


# The filters of `cf-playground models`, by flag; a model is listed when it passes every one given.
_MODEL_FILTERS: tuple[tuple[str, Callable[[ModelInfo], bool]], ...] = (
    ("--vision", lambda m: m.vision),
    ("--tools", lambda m: m.function_calling),
    ("--reasoning", lambda m: m.reasoning),
    ("--free", lambda m: not m.paid_only),
)


def _run_models(args: argparse.Namespace) -> int:
    with collected_warnings() as warnings, _client(args) as client:
        listed = client.list_models(refresh=args.refresh)
        failure = client.models.fetch_error  # set: the built-in table came back
    chosen = [(flag, test) for flag, test in _MODEL_FILTERS if getattr(args, flag[2:])]
    models = [m for m in listed if all(test(m) for _, test in chosen)]
    _print_models(models, as_json=args.json)
    status = 0
    if chosen and not models:
        flags = " ".join(flag for flag, _ in chosen)
        print(f"note: none of the {len(listed)} models listed matches {flags}", file=sys.stderr)
        status = _EXIT_ERROR
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
    return _EXIT_ERROR


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


# -- doctor ---------------------------------------------------------------------------------


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
    return 0 if diagnosis.chat_worked else _EXIT_ERROR


# -- serve ----------------------------------------------------------------------------------

_API_KEY_ENV = "CF_PLAYGROUND_API_KEY"


def _at_least(lowest: int) -> Callable[[str], int]:
    """An argument type: a whole number of ``lowest`` or more."""

    def whole_number(text: str) -> int:
        value = _whole_number(text)
        if value < lowest:
            msg = f"must be {lowest} or more, not {text!r}"
            raise argparse.ArgumentTypeError(msg)
        return value

    return whole_number


_count = _at_least(1)
_queue_length = _at_least(0)


def _add_serve_command(commands: argparse._SubParsersAction[_Parser], connection: _Parser) -> None:
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
        type=_seconds,
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
        return _EXIT_ERROR
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
        raise _UsageError(str(exc)) from None
    try:
        serve.run(_client(args), settings)  # the server closes the client when it stops
    except _Terminated:
        # uvicorn stopped gracefully on SIGTERM, then passed the signal on: a clean stop.
        print("cf-playground serve: stopped", file=sys.stderr)
    return 0


# -- session --------------------------------------------------------------------------------


def _run_session(args: argparse.Namespace) -> int:
    cache = SessionCache()
    base_url = (args.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL).rstrip("/")
    if args.action == "path":
        print(cache.path)
    elif args.action == "clear":
        if not cache.clear(base_url if args.base_url else None):
            print(f"error: could not remove {cache.path}", file=sys.stderr)
            return _EXIT_ERROR
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
            return _EXIT_ERROR
        source = BrowserSessionSource(headless=not args.headful)
        session = asyncio.run(source.acquire(base_url))
        if not cache.save(base_url, session):
            print(f"error: could not write {cache.path}", file=sys.stderr)
            return _EXIT_ERROR
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


if __name__ == "__main__":
    sys.exit(main())

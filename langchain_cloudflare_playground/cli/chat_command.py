"""``cf-playground chat``: one streamed reply, or an interactive chat.

The reply goes to stdout and the model's reasoning to stderr, so that stdout holds the reply alone.
"""

from __future__ import annotations

import re
import sys
from typing import TYPE_CHECKING, TextIO

from langchain_cloudflare_playground.cli.arguments import (
    client_for,
    image,
    temperature,
    token_count,
)
from langchain_cloudflare_playground.cli.exits import EXIT_ERROR, EXIT_INTERRUPTED, UsageError
from langchain_cloudflare_playground.client import (
    DEFAULT_MODEL,
    CertificateError,
    ImageError,
    ImagePart,
    Message,
    PlaygroundClient,
    PlaygroundConnectionError,
    PlaygroundError,
    ReasoningDelta,
    TextDelta,
)
from langchain_cloudflare_playground.client.options import TEMPERATURE_RANGE

if TYPE_CHECKING:
    import argparse

    from langchain_cloudflare_playground.cli.arguments import CommandParser, Subcommands
    from langchain_cloudflare_playground.client.events import ChatEvent

__all__ = ["add_chat_command"]

_HELP = """\
/help   this list
/reset  forget the conversation so far (the system prompt stays)
/image PATH_OR_URL  attach an image to your next message (again for more; vision models)
/exit   leave (also /quit, or Ctrl-D)
Ctrl-C stops a reply and returns to the prompt; at the prompt it leaves (exit code 130).
A line that starts with // is sent as a message, with one slash less."""
_COMMANDS = ("/help", "/reset", "/image", "/exit", "/quit")
_COMMAND_WORD = re.compile(r"/[A-Za-z][\w-]*")


def add_chat_command(commands: Subcommands, connection: CommandParser) -> None:
    """Add ``chat`` to ``commands``; it takes the ``connection`` options."""
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
    chat.add_argument("--max-tokens", type=token_count, default=2048, help="above 0 (default 2048)")
    chat.add_argument(
        "--temperature",
        type=temperature,
        help="{:g} to {:g} (default: the model's)".format(*TEMPERATURE_RANGE),
    )
    chat.add_argument(
        "--hide-reasoning", action="store_true", help="do not print the model's reasoning"
    )
    chat.add_argument(
        "--image",
        action="append",
        type=image,
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


def _run_chat(args: argparse.Namespace) -> int:
    prompt = _one_prompt(args)
    history: list[Message] = []
    if args.system:
        history.append(Message("system", args.system))
    with client_for(args) as client:
        if prompt is None:
            return _interactive(client, history, args)
        reply = _Reply(args)
        try:
            reply.stream(client, [*history, Message("user", prompt, images=tuple(args.image))])
        except KeyboardInterrupt:
            reply.end_line()
            print("interrupted", file=sys.stderr)
            return EXIT_INTERRUPTED
        except PlaygroundConnectionError as exc:  # any other error: main() says it
            reply.end_line()
            print(_error_line(exc, args), file=sys.stderr)
            return EXIT_ERROR
        return 0


def _error_line(error: PlaygroundError, args: argparse.Namespace) -> str:
    """``error`` on one line; when no connection was made, where to find out why.

    An untrusted certificate is left out: its message already says what to do.
    """
    line = f"error: {error}"
    if isinstance(error, PlaygroundConnectionError) and not isinstance(error, CertificateError):
        again = f" --base-url {args.base_url}" if args.base_url else ""
        line += (
            f"; `cf-playground doctor{again}` checks each layer down to the playground and"
            " says which one fails"
        )
    return line


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
            raise UsageError(msg)
        return None
    if prompt == "-" or (prompt is None and not sys.stdin.isatty()):
        if sys.stdin.isatty():
            print("(reading the prompt from the terminal; end it with Ctrl-D)", file=sys.stderr)
        prompt = sys.stdin.read()
        if not prompt.strip():
            msg = "the prompt read from standard input is empty"
            raise UsageError(msg)
        return prompt
    if prompt is not None and not prompt.strip():
        msg = "the prompt is empty"
        raise UsageError(msg)
    return prompt


# The interactive chat's own words (its banner, its prompt, what its /commands say) go to
# stderr, and stdout carries the replies alone: `cf-playground chat -i < questions.txt >
# answers.txt` keeps nothing but answers, as a reply's reasoning already goes to stderr. The
# banner and the prompt are for someone typing, so they appear only when standard input is a
# terminal: read from a file, a prompt per line would only clutter stderr.
_PROMPT = "you> "


def _interactive(client: PlaygroundClient, history: list[Message], args: argparse.Namespace) -> int:
    typing, recall = _greet()
    start = len(history)  # the system prompt survives /reset
    pending: list[ImagePart] = list(args.image)  # for the next message
    while True:
        try:
            line = _next_line(typing=typing)
        except EOFError:  # Ctrl-D, or the end of piped input
            _end_prompt_line(typing=typing)
            return 0
        except KeyboardInterrupt:  # Ctrl-C at the prompt: leave, as a shell's `read` does
            _end_prompt_line(typing=typing)
            return EXIT_INTERRUPTED
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


def _greet() -> tuple[bool, bool]:
    """Greet someone typing at a terminal; whether someone is, and whether the up arrow works."""
    typing = sys.stdin.isatty()
    if typing:
        print(
            "Chatting with the Cloudflare AI Playground. /help lists the commands, /exit leaves.",
            file=sys.stderr,
        )
    return typing, typing and _enable_line_editing()


def _next_line(*, typing: bool) -> str:
    """The next line of standard input, after the prompt when someone is typing."""
    if not typing:
        return input()
    if sys.stdout.isatty():
        # input() draws the prompt itself on the terminal: line editing must know the prompt
        # to redraw the line (the up arrow, Ctrl-L).
        return input(_PROMPT)
    sys.stderr.write(_PROMPT)
    sys.stderr.flush()
    return input()


def _end_prompt_line(*, typing: bool) -> None:
    """Leave the prompt's line (after Ctrl-D or Ctrl-C), so the shell's prompt starts afresh."""
    if typing:
        print(file=sys.stderr)


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
    print(f"[{what} attached to your next message]", file=sys.stderr)


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
        print(_HELP, file=sys.stderr)
    else:  # /reset
        forgotten = len(history) - start
        del history[start:]
        kept = " (the system prompt is kept)" if start else ""
        print(f"history cleared: {forgotten} message(s) forgotten{kept}", file=sys.stderr)
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
        print(_error_line(exc, args), file=sys.stderr)
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

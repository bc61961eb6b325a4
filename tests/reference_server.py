"""A reference playground server for the two HTTP dialects, with fault injection.

It speaks ``POST /api/inference`` and ``GET /api/models`` byte for byte as described in
``shared/PROTOCOL.md`` (dialect 1: server-sent events; dialect 2: the AI SDK v4 data stream), and
replies like a scripted model: it echoes what it received, so a test can see the system prompt,
the history and the model reach the server.

The scripted model also follows three kinds of instructions a client may put in the system prompt:
a JSON schema to answer in ("Answer with one JSON object"), the ReAct format, and the tool format
(a ``# How to call tools`` section, see ``tool_reply``). In the tool format it stands in for a
model that follows the format: it picks tools by their names and fills the arguments their schemas
ask for with values from the request (quoted strings, capitalized phrases, numbers). It is
generic, with no answer keyed to a particular prompt, and the Agents test server
(``tests/agents_server``) gives the same requests the same answers. When it calls no tool, the
echo shows the tool section folded to ``[tools: a, b]``.

Faults are queued per route and consumed one per request, in order::

    server.push(Fault(status=429, retry_after="0"), Fault(cut_after=3))

The server runs its own event loop in a thread, so synchronous tests, asynchronous tests and
subprocesses (the command line) can all talk to it. Run it by hand with::

    python -m tests.reference_server --dialect 2 --port 8787
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import re
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSMsgType, web

CHALLENGE_PAGE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    '<meta http-equiv="refresh" content="390"></head><body><div class="main-wrapper">'
    "<h1>playground.ai.cloudflare.com</h1><p>Verifying you are human. This may take a few"
    ' seconds.</p><script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1">'
    "</script></div></body></html>"
)
REASONING_MARKERS = ("qwq", "deepseek-r1", "gpt-oss")
CLEARANCE = ("cf_clearance", "cleared-by-browser")
SCRIPT_COOKIE = ("pg_js", "set-by-script")
INTERSTITIAL = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body>'
    "<p>Checking your browser before accessing the playground.</p><script>setTimeout(() => {"
    ' document.cookie = "cf_chl_passed=1; path=/"; location.reload(); }, 800);</script>'
    "</body></html>"
)
SITE_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><title>Workers AI LLM Playground</title></head>'
    '<body><div id="root">Playground</div><script>setTimeout(() => { document.cookie ='
    f' "{SCRIPT_COOKIE[0]}={SCRIPT_COOKIE[1]}; path=/; max-age=3600"; }}, 400);</script>'
    "</body></html>"
)

CATALOG: list[dict[str, Any]] = [
    {
        "id": "a0f1c9e2-0001-4000-8000-000000000001",
        "source": 1,
        "name": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        "description": "Llama 3.3 70B quantized to fp8 and tuned for speed.",
        "task": {"id": "t1", "name": "Text Generation", "description": "Generates text."},
        "tags": [],
        "properties": [{"property_id": "context_window", "value": "24000"}],
    },
    {
        "id": "a0f1c9e2-0002-4000-8000-000000000002",
        "source": 1,
        "name": "@cf/qwen/qwq-32b",
        "description": "QwQ reasoning model.",
        "task": {"id": "t1", "name": "Text Generation", "description": "Generates text."},
        "tags": [],
        "properties": [{"property_id": "context_window", "value": "24000"}],
    },
    {
        "id": "a0f1c9e2-0003-4000-8000-000000000003",
        "source": 1,
        "name": "@cf/acme/sparrow-9b-instruct-awq",
        "description": "A model only the live list knows (not in the static alias table).",
        "task": {"id": "t1", "name": "Text Generation", "description": "Generates text."},
        "tags": [],
        "properties": [
            {"property_id": "function_calling", "value": "true"},
            {"property_id": "context_window", "value": "8192"},
        ],
    },
    {
        "id": "a0f1c9e2-0004-4000-8000-000000000004",
        "source": 1,
        "name": "@cf/black-forest-labs/flux-1-schnell",
        "description": "An image model: not a chat model.",
        "task": {"id": "t2", "name": "Text-to-Image", "description": "Generates images."},
        "tags": [],
        "properties": [],
    },
]


@dataclass
class Fault:
    """How to misbehave on one request. The default is a correct reply.

    Attributes:
        status: The HTTP status. With ``body`` unset and a status of 400 or more, a short JSON
            error body is sent.
        body: Send exactly these bytes as the body instead of a stream.
        headers: Extra response headers.
        content_type: Override the content type.
        challenge: Answer with Cloudflare's challenge page (status 403 unless ``status`` says).
        retry_after: A ``Retry-After`` header value.
        reply: The text chunks of the reply (default: the echo reply).
        reasoning: Reasoning chunks sent before the text (dialect 2 only).
        usage: Send usage in the final event.
        cut_after: Send this many reply lines, then reset the connection.
        close_after: Send this many reply lines, then end the body cleanly without the end marker.
        stall_before: Seconds to wait before sending the response headers.
        stall_after: ``(n, seconds)``: after ``n`` reply lines, wait this long.
        chunk_delay: Seconds between reply lines.
        split_at: Write the stream body in pieces cut at these byte offsets, each flushed alone.
        newline: The line ending: ``"\\n"``, ``"\\r\\n"`` or ``"\\r"``.
        extra_lines: Raw lines sent before the reply (unknown prefixes, garbage).
        error_after: ``(n, message)``: after ``n`` text chunks, send an error line and stop.
        eos_token: Dialect 1: send the ``</s>`` token old models emit before the stop.
        set_cookies: Cookies to set on the response.
        trailing_garbage: Raw bytes appended after the end marker.
        websocket: On the agents route: accept the upgrade and answer chat requests with ``reply``
            in the Agents dialect (a minimal stand-in for the SDK server, for WebSocket faults).
        ignore_close: With ``websocket``: never answer the client's close handshake.
        reset_before_status: Drop the connection with a reset before sending any response.
        close_code: With ``websocket`` and ``close_after``: close the WebSocket with this code
            after that many text deltas. (``extra_lines`` go out as raw frames first.)
        trickle: Send the stream body one byte at a time, this many seconds apart.
    """

    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    challenge: bool = False
    retry_after: str | None = None
    reply: list[str] | None = None
    reasoning: list[str] | None = None
    usage: bool = True
    cut_after: int | None = None
    close_after: int | None = None
    stall_before: float = 0.0
    stall_after: tuple[int, float] | None = None
    chunk_delay: float = 0.0
    split_at: list[int] | None = None
    newline: str = "\n"
    extra_lines: list[bytes] = field(default_factory=list)
    error_after: tuple[int, str] | None = None
    eos_token: bool = False
    set_cookies: dict[str, str] = field(default_factory=dict)
    trailing_garbage: bytes = b""
    websocket: bool = False
    ignore_close: bool = False
    reset_before_status: bool = False
    trickle: float | None = None
    close_code: int | None = None


@dataclass
class RecordedRequest:
    """What the server received, for tests to assert on."""

    method: str
    path: str
    headers: dict[str, str]
    cookies: dict[str, str]
    json: Any
    peer: tuple[str, int] | None


def echo_reply(body: dict[str, Any], dialect: int) -> list[str]:
    """The scripted model's answer: it says what it was given."""
    messages = body.get("messages") or []
    system = body.get("system_message")
    if dialect == 1 or system is None:
        system = next((m.get("content") for m in messages if m.get("role") == "system"), None)
    turns = [m for m in messages if m.get("role") != "system"]
    last = next((m.get("content", "") for m in reversed(turns) if m.get("role") == "user"), "")
    long = re.search(r"\[long:(\d+)\]", str(last))
    if long:  # a reply of N chunks, for benchmarks and memory tests
        return [f"t{i} " for i in range(min(int(long.group(1)), 1_000_000))]
    shown = system
    if system:
        users = [str(m.get("content", "")) for m in turns if m.get("role") == "user"]
        answer = tool_reply(system, users)
        if answer is not None:
            return _chunked(answer)
        shown = without_tool_section(system)
    if system and "## Output Format" in system and "Action Input" in system:
        return _chunked(_react_step(system, messages, last))
    if system and "Answer with one JSON object" in system:
        # A model that follows JSON instructions: an object shaped by the schema, if any.
        return _chunked(json.dumps(_object_for(system, last)))
    text = (
        f"Echo: {last} | model={body.get('model')} | system={shown}"
        f" | turns={len(turns)} | max_tokens={body.get('max_tokens')}"
    )
    # Word-sized chunks with their spaces, like a tokenizer's output.
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]]


def _react_step(system: str, messages: list[dict[str, Any]], question: str) -> str:
    """A model that answers in the ReAct format: use the first tool, then answer from its result.

    The tool's integer arguments are the numbers in the question, in order.
    """
    observations = [
        line.removeprefix("Observation:").strip()
        for m in messages
        if m.get("role") != "system"  # the format description mentions observations too
        for line in str(m.get("content", "")).splitlines()
        if line.startswith("Observation:")
    ]
    if observations:
        return (
            "Thought: I can answer without using any more tools.\n"
            f"Answer: The result is {observations[-1]}."
        )
    tool = re.search(r"> Tool Name: (\S+)", system)
    schema = re.search(r"Tool Args: (\{.*\})", system)
    names = list(json.loads(schema.group(1)).get("properties", {})) if schema else []
    numbers = [int(n) for n in re.findall(r"-?\d+", question)]
    arguments = dict(zip(names, numbers, strict=False))
    return (
        "Thought: The current language of the user is: English. I need to use a tool to help"
        " me answer the question.\n"
        f"Action: {tool.group(1) if tool else 'none'}\n"
        f"Action Input: {json.dumps(arguments)}"
    )


def _chunked(text: str, size: int = 7) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


_SAMPLE_VALUES: dict[str, Any] = {
    "integer": 3,
    "number": 1.5,
    "boolean": True,
    "array": [],
    "object": {},
}


def _object_for(system: str, last: str) -> dict[str, Any]:
    """A JSON object that satisfies the schema quoted in ``system`` (strings echo ``last``)."""
    _, _, quoted = system.partition("JSON schema:\n")
    try:
        schema = json.loads(quoted) if quoted else {}
    except ValueError:
        schema = {}
    properties = schema.get("properties") or {"echo": {"type": "string"}}
    return {
        name: last
        if spec.get("type", "string") == "string"
        else _SAMPLE_VALUES.get(spec.get("type"))
        for name, spec in properties.items()
    }


# -- the tool format ------------------------------------------------------------------------
#
# tests/agents_server/src/index.ts has the same model in TypeScript; change both together.

TOOLS_HEADING = "# How to call tools"
_SCHEMA_PREFIX = "Arguments JSON schema: "
_CORRECTION = "Your last reply could not be used:"
_RESULT_STARTS = ("Tool result for ", "Tool error for ")
_RESULT_HEADER = re.compile(r"Tool (?:result|error) for [^\n]*?\):[ \t]?([^\n]*)")
_NAMED_CHOICE = re.compile(r'You must call the tool "([^"\n]+)" now\.')
_REQUIRED_CHOICE = "You must call at least one tool now."
# Test knobs in the request; the Agents server's own knobs are listed too, so that both servers
# take the same values from the rest of the text.
_TRIGGER = re.compile(
    r"\[(?:fenced|prose|bad-tool|bad-args|always-bad|reasoning|rate-limit|error-before-text"
    r"|error-after-text|error:[^\]]*|empty|length|long:\d+|slow(?::\d+)?|repeat-newline"
    r"|no-response|throw)\]"
)
# Boundaries are ASCII: "v2" holds no number, yet Chinese text puts numbers and names right
# next to other characters.
_NUMBER = re.compile(r"(?<![A-Za-z0-9_.])-?[0-9]+(?:\.[0-9]+)?")
_WHOLE_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
# An apostrophe inside a word ("What's") neither opens nor closes a quote.
_QUOTED = re.compile(r"(?<![A-Za-z0-9])'([^\n]+?)'(?![A-Za-z0-9])|\"([^\"\n]+?)\"|“([^”\n]+?)”")
_WORD = re.compile(r"[^\W_]+(?:['\u2019\-][^\W_]+)*")  # with O'Neill, Jean-Luc
_MAX_DEPTH = 8
_UNIONS = ("anyOf", "oneOf", "allOf")
_BAD_TOOL = "no_such_tool"


@dataclass(frozen=True)
class _ToolSpec:
    name: str
    schema: dict[str, Any]


@dataclass
class _Found:
    """A value found in the request; each is used at most once per reply."""

    text: str
    start: int
    used: bool = False


def tool_reply(system: str, users: list[str]) -> str | None:
    """The scripted model's answer in the tool format, or ``None`` to answer as usual.

    ``users`` are the texts of the user messages, oldest first. Tool results get a plain answer
    quoting them; a request gets a ``{"tool_calls": [...]}`` object for the tools it names (by
    their full name, else by the words of one name), or for the first tool when a call is
    required. Arguments come from the request: quoted strings, then capitalized phrases for
    strings, numbers in order for numbers, an enum value the request mentions. After a
    correction (``Your last reply could not be used: ...``) the request is the one before it.
    """
    lines = [line.removesuffix("\r") for line in system.split("\n")]
    if TOOLS_HEADING not in lines:
        return None
    last = users[-1] if users else ""
    results = _tool_results(last)
    if results is not None:
        return f"The tool answered: {'; '.join(results)}."
    correcting = last.startswith(_CORRECTION)
    request = last
    if correcting:
        request = next(
            (
                text
                for text in reversed(users)
                if not text.startswith(_CORRECTION) and _tool_results(text) is None
            ),
            "",
        )
    if "[prose]" in request:
        return "I would rather answer in words."
    text = _TRIGGER.sub("", request).strip()
    tools, named, required = _tool_section(lines)
    chosen = _choose_tools(tools, text, named=named, required=required)
    bad_tool = "[always-bad]" in request or ("[bad-tool]" in request and not correcting)
    if not chosen and bad_tool and tools:
        chosen = tools[:1]
    if not chosen:
        return None
    values = _Values(text, tools)
    bad_args = "[bad-args]" in request and not correcting
    calls = [
        {"name": tool.name, "arguments": _arguments(tool.schema, values, bad_args=bad_args)}
        for tool in chosen
    ]
    if bad_tool:
        calls = [{"name": _BAD_TOOL, "arguments": calls[0]["arguments"]}]
    payload = json.dumps({"tool_calls": calls}, ensure_ascii=False)
    if "[fenced]" in request:
        return f"I will use a tool.\n```json\n{payload}\n```\n"
    return payload


def without_tool_section(system: str) -> str:
    """``system`` with its tool section folded to ``[tools: a, b]``, for the echo.

    A model answering in words does not repeat the call format, whose template a client would
    take for a broken call.
    """
    lines = system.split("\n")
    bare = [line.removesuffix("\r") for line in lines]
    if TOOLS_HEADING not in bare:
        return system
    heading = bare.index(TOOLS_HEADING)
    start = max((i for i in range(heading) if bare[i] == "# Tools"), default=heading)
    end = next((i for i in range(heading + 1, len(bare)) if bare[i].startswith("# ")), len(bare))
    names = ", ".join(tool.name for tool in _tool_section(bare)[0])
    return "\n".join([*lines[:start], f"[tools: {names}]", *lines[end:]])


def _tool_results(text: str) -> list[str] | None:
    """The result texts of a tool-results message, or ``None`` for any other message."""
    if not text.startswith(_RESULT_STARTS):
        return None
    blocks: list[list[str]] = []
    for line in text.split("\n"):
        header = _RESULT_HEADER.fullmatch(line.removesuffix("\r"))
        if header is not None or not blocks:
            blocks.append([header.group(1)] if header is not None and header.group(1) else [])
        else:
            blocks[-1].append(line)
    return ["\n".join(block).strip() for block in blocks]


def _tool_section(lines: list[str]) -> tuple[list[_ToolSpec], str | None, bool]:
    """The tools listed before the heading, the tool named by the choice, whether one is due."""
    heading = lines.index(TOOLS_HEADING)
    tools: list[_ToolSpec] = []
    name: str | None = None
    for line in lines[:heading]:
        if line.startswith("## "):
            name = line[3:].strip()
        elif line.startswith("#"):
            name = None
        elif name and line.startswith(_SCHEMA_PREFIX):
            try:
                schema = json.loads(line[len(_SCHEMA_PREFIX) :])
            except ValueError:
                schema = {}
            tools.append(_ToolSpec(name, schema if isinstance(schema, dict) else {}))
            name = None
    rules = "\n".join(lines[heading + 1 :])
    named = _NAMED_CHOICE.search(rules)
    return tools, named.group(1) if named else None, _REQUIRED_CHOICE in rules


def _name_pattern(text: str) -> re.Pattern[str]:
    """``text`` as a whole word, in any case."""
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(text)}(?![A-Za-z0-9_])", re.IGNORECASE)


def _name_words(name: str) -> list[str]:
    """The words of a tool name of four letters or more: ``getWeatherNow`` -> weather."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1 \2", spaced)
    words = [word.lower() for word in re.split(r"[\W_]+", spaced) if len(word) >= 4]
    return list(dict.fromkeys(words))


def _choose_tools(
    tools: list[_ToolSpec], text: str, *, named: str | None, required: bool
) -> list[_ToolSpec]:
    if named is not None:
        tool = next((t for t in tools if t.name == named), None)
        if tool is not None:
            return [tool]
    mentioned: list[tuple[int, _ToolSpec]] = []
    for tool in tools:
        found = _name_pattern(tool.name).search(text)
        if found is not None:
            mentioned.append((found.start(), tool))
    if mentioned:
        return [tool for _, tool in sorted(mentioned, key=lambda hit: hit[0])]
    lowered = text.lower()
    best: _ToolSpec | None = None
    best_score = 0
    for tool in tools:
        score = sum(1 for word in _name_words(tool.name) if word in lowered)
        if score > best_score:
            best, best_score = tool, score
    if best is not None:
        return [best]
    return tools[:1] if required else []


class _Values:
    """The values a request offers, in order of appearance: quoted, capitalized, numbers."""

    def __init__(self, text: str, tools: list[_ToolSpec]) -> None:
        self.text = text
        self.quoted: list[_Found] = []
        numbers: list[_Found] = []
        # Quoted text and tool names are not also read as phrases or numbers.
        masked = list(text)
        names = {tool.name.lower() for tool in tools}
        for match in _QUOTED.finditer(text):
            masked[match.start() : match.end()] = "\0" * (match.end() - match.start())
            content = next(group for group in match.groups() if group is not None)
            if content.lower() in names:
                continue
            found = _Found(content, match.start())
            self.quoted.append(found)
            if _WHOLE_NUMBER.fullmatch(content):
                numbers.append(found)
        for tool in tools:
            for match in _name_pattern(tool.name).finditer(text):
                masked[match.start() : match.end()] = "\0" * (match.end() - match.start())
        plain = "".join(masked)
        numbers.extend(_Found(m.group(), m.start()) for m in _NUMBER.finditer(plain))
        self.numbers = sorted(numbers, key=lambda found: found.start)
        self.phrases = _capitalized_phrases(plain)

    @staticmethod
    def take(pool: list[_Found]) -> str | None:
        found = next((f for f in pool if not f.used), None)
        if found is None:
            return None
        found.used = True
        return found.text

    def mentions(self, value: str) -> bool:
        return _name_pattern(value).search(self.text) is not None


def _capitalized_phrases(text: str) -> list[_Found]:
    """Runs of capitalized words joined by spaces or ", ": ``San Francisco, CA``.

    A sentence's first word and "I" are capitalized by grammar, not as names: they do not count.
    """
    phrases: list[_Found] = []
    start: int | None = None
    end = 0
    for match in _WORD.finditer(text):
        word = match.group()
        counts = word[0].isupper() and word != "I" and not _starts_sentence(text, match.start())
        if counts and start is not None and text[end : match.start()] in (" ", ", "):
            end = match.end()
            continue
        if start is not None:
            phrases.append(_Found(text[start:end], start))
        start, end = (match.start(), match.end()) if counts else (None, 0)
    if start is not None:
        phrases.append(_Found(text[start:end], start))
    return phrases


def _starts_sentence(text: str, index: int) -> bool:
    before = text[:index]
    trimmed = before.rstrip()
    return not trimmed or (trimmed[-1] in ".!?" and len(trimmed) < len(before))


def _arguments(schema: dict[str, Any], values: _Values, *, bad_args: bool) -> dict[str, Any]:
    built = _value_for(schema, schema, values, required=True, bad_args=bad_args, depth=0)
    return built[0] if built is not None and isinstance(built[0], dict) else {}


def _value_for(  # noqa: PLR0911 (one branch per JSON schema type)
    schema: dict[str, Any],
    root: dict[str, Any],
    values: _Values,
    *,
    required: bool,
    bad_args: bool,
    depth: int,
) -> tuple[Any, bool] | None:
    """``(value, taken from the request)`` for ``schema``, or ``None`` to leave it out."""
    schema = _resolve(schema, root)
    kind = _schema_type(schema)
    numeric = kind in ("integer", "number")
    if "const" in schema:
        return (schema["const"], False) if required else None
    options = schema.get("enum")
    if isinstance(options, list) and options:
        for option in options:
            if values.mentions(option if isinstance(option, str) else json.dumps(option)):
                return ("not a number" if bad_args and numeric else option), True
        if not required:
            return None
        return ("not a number" if bad_args and numeric else options[0]), False
    if numeric:
        number = values.take(values.numbers)
        if number is None and not required:
            return None
        value = _number(number, kind) if number is not None else 0
        return ("not a number" if bad_args else value), number is not None
    if kind == "boolean":
        return (True, False) if required else None
    if kind == "array":
        return ([], False) if required else None
    if kind == "null":
        return (None, False) if required else None
    if kind == "object":
        if depth >= _MAX_DEPTH:
            return ({}, False) if required else None
        properties = schema.get("properties")
        needed = schema.get("required")
        needed = needed if isinstance(needed, list) else []
        out: dict[str, Any] = {}
        taken = False
        for name, spec in properties.items() if isinstance(properties, dict) else ():
            built = _value_for(
                spec if isinstance(spec, dict) else {},
                root,
                values,
                required=name in needed,
                bad_args=bad_args,
                depth=depth + 1,
            )
            if built is not None:
                out[name] = built[0]
                taken = taken or built[1]
        return (out, taken) if required or taken else None
    text = values.take(values.quoted) or values.take(values.phrases)
    if text is not None:
        return text, True
    return (values.text, False) if required else None


def _number(text: str, kind: str) -> int | float:
    whole, point, _ = text.partition(".")
    if kind == "integer" or not point:
        return int(whole)
    value = float(text)
    # JSON.stringify writes 2.0 as 2; so does this, for the two servers to agree.
    return int(value) if value.is_integer() else value


def _schema_type(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


def _resolve(schema: dict[str, Any], root: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """``schema`` with local ``$ref`` followed and the first non-null branch of a union taken."""
    for _ in range(_MAX_DEPTH):
        if depth > _MAX_DEPTH:
            break  # a schema that refers to itself
        ref = schema.get("$ref")
        if isinstance(ref, str):
            target = _pointer(root, ref)
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**(target or {}), **rest}
            continue
        union = _union(schema)
        if union is not None:
            branches = [b for b in union if isinstance(b, dict)]
            pick = next(
                (b for b in branches if _schema_type(_resolve(b, root, depth + 1)) != "null"),
                branches[0] if branches else {},
            )
            rest = {k: v for k, v in schema.items() if k not in _UNIONS}
            schema = {**rest, **pick}
            continue
        break
    return schema


def _union(schema: dict[str, Any]) -> list[Any] | None:
    for key in _UNIONS:
        branches = schema.get(key)
        if isinstance(branches, list) and branches:
            return branches
    return None


def _pointer(root: dict[str, Any], ref: str) -> dict[str, Any] | None:
    """The schema at a local reference such as ``#/$defs/Unit``."""
    if not ref.startswith("#"):
        return None
    node: Any = root
    for part in ref[1:].split("/")[1:]:
        key = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or key not in node:
            return None
        node = node[key]
    return node if isinstance(node, dict) else None


class ReferenceServer:
    """The reference server on a free loopback port, in a thread of its own."""

    def __init__(self, dialect: Literal[1, 2] = 2, *, port: int = 0, gate: bool = False) -> None:
        """Prepare a server for ``dialect``; ``start()`` runs it.

        ``gate`` puts a stand-in for Cloudflare's edge in front: the site page is behind an
        interstitial that clears itself by script, and the API refuses requests without the
        cookies the page sets (one HttpOnly, by header; one by script, after a delay).
        """
        self.dialect = dialect
        self.gate = gate
        self.challenge_forever = False  # the interstitial never clears (a deadline test)
        self.page_never_answers = False  # the site page hangs (a deadline test)
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.models_payload: Any = {"models": CATALOG}
        self._faults: dict[str, deque[Fault]] = {
            "inference": deque(),
            "models": deque(),
            "agents": deque(),
        }
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._stopping: asyncio.Event | None = None

    @property
    def url(self) -> str:
        """The base URL to give the client."""
        return f"http://127.0.0.1:{self.port}"

    def push(
        self, *faults: Fault, route: Literal["inference", "models", "agents"] = "inference"
    ) -> None:
        """Queue faults for the next requests to ``route``, one per request."""
        self._faults[route].extend(faults)

    def pending_faults(self, route: Literal["inference", "models", "agents"] = "inference") -> int:
        """How many queued faults have not been used yet."""
        return len(self._faults[route])

    @property
    def inference_requests(self) -> list[RecordedRequest]:
        """The chat requests received so far."""
        return [r for r in self.requests if r.path == "/api/inference"]

    def start(self) -> ReferenceServer:
        """Start serving; returns once the port accepts connections."""
        if self.port == 0:
            self.port = free_port()
        started = threading.Event()
        self._thread = threading.Thread(target=self._serve, args=(started,), daemon=True)
        self._thread.start()
        if not started.wait(10):
            msg = "the reference server did not start within 10 s"
            raise RuntimeError(msg)
        return self

    def stop(self) -> None:
        """Stop serving and join the thread."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(10)

    def __enter__(self) -> ReferenceServer:  # noqa: PYI034 (Self needs Python 3.11)
        """Start on entering ``with``."""
        return self.start()

    def __exit__(self, *_: object) -> None:
        """Stop on leaving ``with``."""
        self.stop()

    # -- serving ----------------------------------------------------------------------------

    def _serve(self, started: threading.Event) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(started))
        finally:
            loop.close()

    async def _main(self, started: threading.Event) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/api/inference", self._inference)
        app.router.add_get("/api/models", self._models)
        app.router.add_get("/", self._site_page)
        app.middlewares.append(self._edge_gate)
        # An HTTP-dialect server has no Agents route: the upgrade gets a 404, or whatever fault
        # is queued (a challenge page, as Cloudflare's edge answers non-browser clients).
        app.router.add_get("/agents/playground/{room}", self._agents)
        self._runner = web.AppRunner(app, handle_signals=False, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        started.set()
        await self._stopping.wait()
        await self._runner.cleanup()

    async def _site_page(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if self.page_never_answers:
            await asyncio.sleep(120)
        if self.challenge_forever:
            return _challenge_interstitial(clears=False)
        if request.cookies.get("cf_chl_passed") != "1":
            return _challenge_interstitial()
        response = web.Response(text=SITE_PAGE, content_type="text/html")
        response.set_cookie(
            CLEARANCE[0], CLEARANCE[1], max_age=1800, httponly=True, path="/", samesite="Lax"
        )
        return response

    @web.middleware
    async def _edge_gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.gate and request.path.startswith("/api/"):
            jar = request.cookies
            if (
                jar.get(CLEARANCE[0]) != CLEARANCE[1]
                or jar.get(SCRIPT_COOKIE[0]) != SCRIPT_COOKIE[1]
            ):
                await self._record(request)
                return _challenge_interstitial()
        response: web.StreamResponse = await handler(request)
        return response

    def _next_fault(self, route: str) -> Fault:
        queue = self._faults[route]
        return queue.popleft() if queue else Fault()

    async def _record(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                headers=dict(request.headers),
                cookies=dict(request.cookies),
                json=payload,
                peer=request.transport.get_extra_info("peername") if request.transport else None,
            )
        )
        return payload

    async def _models(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        fault = self._next_fault("models")
        refused = await self._refuse(request, fault)
        if refused is not None:
            return refused
        return web.json_response(self.models_payload, headers=fault.headers)

    async def _agents(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        queue = self._faults["agents"]
        fault = queue.popleft() if queue else None
        if fault is not None and fault.websocket:
            return await self._agents_conversation(request, fault)
        refused = await self._refuse(request, fault) if fault else None
        return refused or web.json_response({"error": "not found"}, status=404)

    async def _agents_conversation(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        """Just enough of the Agents dialect to answer one chat request."""
        ws = web.WebSocketResponse(autoclose=not fault.ignore_close)
        await ws.prepare(request)
        await ws.send_json({"type": "cf_agent_identity", "name": "r", "agent": "playground"})
        await ws.send_json({"type": "cf_agent_state", "state": {"model": "m"}})
        await ws.send_json({"type": "cf_agent_mcp_servers", "mcp": {}})
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue  # with ignore_close, a close frame gets no answer
            frame = json.loads(message.data)
            if frame.get("type") != "cf_agent_use_chat_request":
                continue
            for raw in fault.extra_lines:
                await ws.send_str(raw.decode("utf-8", "replace"))
            bodies = [
                *(
                    {"type": "text-delta", "id": "t0", "delta": chunk}
                    for chunk in fault.reply or ["ok"]
                ),
                {"type": "finish", "messageMetadata": {"finishReason": "stop"}},
            ]
            for sent, body in enumerate(bodies):
                if fault.close_after is not None and sent >= fault.close_after:
                    await ws.close(code=fault.close_code or 1000)
                    return ws
                await ws.send_json(_agents_response(frame["id"], json.dumps(body)))
            await ws.send_json(_agents_response(frame["id"], "", done=True))
        if fault.ignore_close:
            await asyncio.sleep(10)  # hold the connection, silent, past the client's close wait
        return ws

    async def _refuse(self, request: web.Request, fault: Fault) -> web.StreamResponse | None:
        """Answer faults that replace the whole response; ``None`` if the reply should stream."""
        del request
        if fault.stall_before:
            await asyncio.sleep(fault.stall_before)
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        response: web.Response | None = None
        if fault.challenge:
            headers["cf-mitigated"] = "challenge"
            response = web.Response(
                status=fault.status if fault.status != 200 else 403,
                text=CHALLENGE_PAGE,
                content_type="text/html",
                headers=headers,
            )
        elif fault.body is not None:
            response = web.Response(
                status=fault.status,
                body=fault.body,
                content_type=fault.content_type or "text/plain",
                headers=headers,
            )
        elif fault.status >= 400:
            response = web.json_response(
                {"error": f"reference server says {fault.status}"},
                status=fault.status,
                headers=headers,
            )
        if response is not None:
            for name, value in fault.set_cookies.items():
                response.set_cookie(name, value, max_age=1800, httponly=True)
        return response

    async def _inference(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        fault = self._next_fault("inference")
        refused = await self._refuse(request, fault)
        if refused is not None:
            return refused
        if not isinstance(body, dict):
            return web.json_response({"error": "body must be JSON"}, status=400)
        if fault.reset_before_status:
            _reset(request)
            return web.Response()  # never sent: the connection is gone
        lines = self._reply_lines(body, fault)
        response = web.StreamResponse(
            status=fault.status,
            headers={
                "Content-Type": fault.content_type
                or ("text/event-stream" if self.dialect == 1 else "text/plain; charset=utf-8"),
                "Cache-Control": "no-cache",
                **({"x-vercel-ai-data-stream": "v1"} if self.dialect == 2 else {}),
                **fault.headers,
            },
        )
        for name, value in fault.set_cookies.items():
            response.set_cookie(name, value, max_age=1800, httponly=True)
        await response.prepare(request)
        await self._write_lines(request, response, lines, fault)
        return response

    def _reply_lines(self, body: dict[str, Any], fault: Fault) -> list[tuple[bytes, bool]]:
        """The body as ``(line, counts)`` pairs; ``counts`` marks reply lines for cut/stall."""
        model = str(body.get("model", ""))
        chunks = fault.reply if fault.reply is not None else echo_reply(body, self.dialect)
        reasoning = fault.reasoning
        if reasoning is None and any(m in model for m in REASONING_MARKERS):
            reasoning = ["Let me think. ", "The user wants an echo."]
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion_tokens = len(chunks)
        sse = self.dialect == 1
        out: list[tuple[bytes, bool]] = [(raw, False) for raw in fault.extra_lines]
        if not sse:
            out.append((b'f:{"messageId":"msg-ref-1"}', False))
            out.extend((b"g:" + _json(r), True) for r in reasoning or [])
        for index, chunk in enumerate([*chunks, None]):
            if fault.error_after is not None and index == fault.error_after[0]:
                message = fault.error_after[1]
                out.append((_sse({"error": message}) if sse else b"3:" + _json(message), True))
                return out
            if chunk is not None:
                out.append((_sse({"response": chunk}) if sse else b"0:" + _json(chunk), True))
        if sse:
            if fault.eos_token:
                out.append((_sse({"response": "</s>"}), True))
            final: dict[str, Any] = {"response": ""}
            if fault.usage:
                final["usage"] = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                }
            out.append((_sse(final), True))
            out.append((b"data: [DONE]", True))
            return out
        step: dict[str, Any] = {"finishReason": "stop", "isContinued": False}
        finish: dict[str, Any] = {"finishReason": "stop"}
        if fault.usage:
            usage = {"promptTokens": prompt_tokens, "completionTokens": completion_tokens}
            step["usage"] = finish["usage"] = usage
        out.append((b"e:" + _json(step), True))
        out.append((b"d:" + _json(finish), True))
        return out

    async def _write_lines(
        self,
        request: web.Request,
        response: web.StreamResponse,
        lines: list[tuple[bytes, bool]],
        fault: Fault,
    ) -> None:
        newline = fault.newline.encode()
        separator = newline * 2 if self.dialect == 1 else newline
        if fault.trickle is not None:
            payload = b"".join(line + separator for line, _ in lines)
            for index in range(len(payload)):
                await response.write(payload[index : index + 1])
                await asyncio.sleep(fault.trickle)
            await response.write_eof()
            return
        if fault.split_at is not None:
            payload = b"".join(line + separator for line, _ in lines) + fault.trailing_garbage
            cuts = [0, *sorted(fault.split_at), len(payload)]
            for start, end in itertools.pairwise(cuts):
                if end > start:
                    await response.write(payload[start:end])
                    await asyncio.sleep(0.005)  # so each piece leaves as its own read
            await response.write_eof()
            return
        per_line = any(
            value is not None for value in (fault.cut_after, fault.close_after, fault.stall_after)
        ) or bool(fault.chunk_delay)
        if len(lines) > _BATCH_OVER and not per_line:
            # A long reply leaves in batches, as a busy server's would: one write per line
            # would make this server, not the client, the limit the benchmarks measure.
            for start in range(0, len(lines), _BATCH):
                batch = lines[start : start + _BATCH]
                await response.write(b"".join(line + separator for line, _ in batch))
            await response.write_eof()
            return
        sent = 0
        for line, counts in lines:
            if counts:
                if fault.cut_after is not None and sent >= fault.cut_after:
                    # Let the client read what was sent first: a reset makes the kernel drop
                    # data the reader has not taken yet.
                    await asyncio.sleep(0.05)
                    _reset(request)
                    return
                if fault.close_after is not None and sent >= fault.close_after:
                    await response.write_eof()
                    return
                if fault.stall_after is not None and sent == fault.stall_after[0]:
                    await asyncio.sleep(fault.stall_after[1])
                if fault.chunk_delay:
                    await asyncio.sleep(fault.chunk_delay)
                sent += 1
            await response.write(line + separator)
        if fault.trailing_garbage:
            await response.write(fault.trailing_garbage)
        await response.write_eof()


_BATCH_OVER = 1000  # replies longer than this many lines are written in batches
_BATCH = 64


def _challenge_interstitial(*, clears: bool = True) -> web.Response:
    return web.Response(
        status=403,
        text=INTERSTITIAL if clears else INTERSTITIAL.split("<script>", maxsplit=1)[0],
        content_type="text/html",
        headers={"cf-mitigated": "challenge"},
    )


def _agents_response(request_id: str, body: str, *, done: bool = False) -> dict[str, Any]:
    return {"type": "cf_agent_use_chat_response", "id": request_id, "body": body, "done": done}


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + _json(payload)


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP reset, mid-body."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    transport.abort()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dialect", type=int, choices=(1, 2), default=2)
    parser.add_argument("--port", type=int, default=8787)
    args = parser.parse_args()
    server = ReferenceServer(args.dialect, port=args.port).start()
    print(f"reference server (dialect {args.dialect}) on {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

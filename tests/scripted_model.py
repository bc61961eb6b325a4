"""The scripted model that both local playground servers reply with.

It stands in for Workers AI. The reference server (``tests/reference_server.py``, the HTTP
wire formats) calls ``echo_reply`` in process; the real Agents SDK server (``tests/agents_server``,
run in ``wrangler dev`` by ``tests/agents_worker.py``) asks ``agents_script`` over loopback,
through the small HTTP endpoint at the end of this module, and streams the script it gets back
through the SDK. So every scripted behaviour is written once, here:

- the echo: the model says what it was given (system prompt, history, model), so a test can see
  what reached the server;
- the bracketed triggers of the last user message (``[reasoning]``, ``[rate-limit]``,
  ``[error:TEXT]``, ``[slow:MS]``, ``[long:N]``, ... see ``tests/agents_server/README.md``);
- three kinds of instructions a client may put in the system prompt: a JSON schema to answer in
  ("Answer with one JSON object"), the ReAct format (HTTP only) and the tool format (a tool
  section written by the package's generic offering, see ``tool_reply``). In the tool format it
  stands in for a model that follows the format: it picks tools by their names and fills the
  arguments their schemas ask for with values from the request (quoted strings, capitalized
  phrases, numbers). It is generic, with no answer keyed to a particular prompt.

Each wire keeps the shape its replies had when the two servers had a model each (the committed
cassettes hold them): the HTTP echo is one line cut into words, JSON and tool replies are cut
every 7 characters and written with ``json.dumps``; the Agents echo is one line per field, replies
are cut every two words and JSON is written as ``JSON.stringify`` writes it.

The strings of the tool format are read from the package (the generic offering and friends), not
copied: a change to the prompt is made there, once.

Run the endpoint by hand (``tests/agents_worker.py`` does it for the tests) with::

    python -m tests.scripted_model --port 8790
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qs, urlsplit

from langchain_cloudflare_playground.client.tools import Tool, ToolResult

# The only names taken from the prompt module itself (the public package exports the types).
from langchain_cloudflare_playground.client.tools.offerings import GENERIC
from langchain_cloudflare_playground.client.tools.prompt import (
    correction_request,
    render_tool_results,
)
from tests.scripted_families import ScriptedFamily, family_for

if TYPE_CHECKING:
    from collections.abc import Sequence

# -- what the client writes, read from the package ------------------------------------------


@dataclass(frozen=True)
class _ToolFormat:
    """The strings of the tool format, as the package's prompt functions write them."""

    section: str  # the heading the tool section starts with: "# Tools"
    heading: str  # the heading of the call instructions: "# How to call tools"
    tool_prefix: str  # before a tool's name: "## "
    schema_prefix: str  # before a tool's argument schema: "Arguments JSON schema: "
    named_choice: re.Pattern[str]  # 'You must call the tool "(name)" now.'
    required_choice: str  # "You must call at least one tool now."
    result_starts: tuple[str, ...]  # "Tool result for ", "Tool error for "
    result_header: re.Pattern[str]  # a result block's header line, capturing text after it
    correction: str  # "Your last reply could not be used:"


def _read_tool_format() -> _ToolFormat:
    """Write a probe tool with the package's functions and read the format's pieces off it."""
    name, call, problem = "probe_tool_4f2a", "917", "PROBE-PROBLEM-4f2a"
    schema = {"type": "object", "properties": {"probe_argument": {"type": "string"}}}
    tool = Tool(name=name, description="", parameters=schema)
    auto = GENERIC.system_section([tool], "auto").split("\n")
    required = GENERIC.system_section([tool], "required").split("\n")
    named = GENERIC.system_section([tool], name).split("\n")
    headings = [line for line in auto if line.startswith("# ")]
    name_line = next(line for line in auto if line.endswith(name))
    schema_json = json.dumps(schema)
    schema_line = next(line for line in auto if line.endswith(schema_json))
    (required_line,) = [line for line in required if line not in auto]
    (named_line,) = [line for line in named if line not in auto]
    before_name, after_name = named_line.split(name)
    headers = [
        render_tool_results([ToolResult(call, name, "content", is_error=failed)]).split("\n")[0]
        for failed in (False, True)
    ]
    starts = tuple(header[: header.index(name)] for header in headers)
    header_end = headers[0][headers[0].index(call) + len(call) :]
    return _ToolFormat(
        section=headings[0],
        heading=headings[-1],
        tool_prefix=name_line[: -len(name)],
        schema_prefix=schema_line[: -len(schema_json)],
        named_choice=re.compile(f"{re.escape(before_name)}([^\n]+?){re.escape(after_name)}"),
        required_choice=required_line,
        result_starts=starts,
        result_header=re.compile(
            f"(?:{'|'.join(map(re.escape, starts))})[^\n]*?{re.escape(header_end)}[ \t]?([^\n]*)"
        ),
        correction=correction_request(problem).split(problem)[0].rstrip(),
    )


FORMAT = _read_tool_format()
TOOLS_HEADING = FORMAT.heading
# The LangChain adapter's JSON instruction (with_structured_output, method "json_schema" or
# "json_mode"), and where it quotes the schema.
JSON_INSTRUCTION = "Answer with one JSON object"
JSON_SCHEMA_MARK = "JSON schema:\n"
# LlamaIndex's ReAct prompt (llama_index.core), which the HTTP model follows.
REACT_MARKS = ("## Output Format", "Action Input")

# Test knobs in the request, stripped before values are read from it.
_TRIGGER = re.compile(
    r"\[(?:fenced|prose|bad-tool|bad-args|always-bad|reasoning|rate-limit|error-before-text"
    r"|error-after-text|error:[^\]]*|empty|length|long:\d+|slow(?::\d+)?|repeat-newline"
    r"|no-response|throw)\]"
)
_LONG = re.compile(r"\[long:(\d+)\]")
_MAX_LONG = 1_000_000

# -- the HTTP wire formats ----------------------------------------------------------------------

# The two wire formats of ``POST /api/inference`` (``HttpWireFormat``'s values).
HttpWireFormatName = Literal["sse", "data-stream"]

HTTP_REASONING_MARKERS = ("qwq", "deepseek-r1", "gpt-oss")


def echo_reply(body: dict[str, Any], wire_format: HttpWireFormatName) -> list[str]:
    """The text chunks of the reply to an HTTP ``/api/inference`` request body."""
    messages = body.get("messages") or []
    system = body.get("system_message")
    if wire_format == "sse" or system is None:
        system = next((m.get("content") for m in messages if m.get("role") == "system"), None)
    turns = [m for m in messages if m.get("role") != "system"]
    last = next((m.get("content", "") for m in reversed(turns) if m.get("role") == "user"), "")
    long = _LONG.search(str(last))
    if long:  # a reply of N chunks, for benchmarks and memory tests
        return [f"t{i} " for i in range(min(int(long.group(1)), _MAX_LONG))]
    shown = system
    if system:
        users = [str(m.get("content", "")) for m in turns if m.get("role") == "user"]
        assistants = [str(m.get("content", "")) for m in turns if m.get("role") == "assistant"]
        answer = tool_reply(system, users, str(body.get("model") or ""), assistants)
        if answer is not None:
            return _chunked(answer)
        shown = without_tool_section(system)
    if system and all(mark in system for mark in REACT_MARKS):
        return _chunked(_react_step(system, messages, last))
    if system and JSON_INSTRUCTION in system:
        # A model that follows JSON instructions: an object shaped by the schema, if any.
        return _chunked(json.dumps(object_for(system, last)))
    text = (
        f"Echo: {_AVAILABLE_TOOLS.sub('[tools]', str(last))} | model={body.get('model')}"
        f" | system={shown}"
        f" | turns={len(turns)} | max_tokens={body.get('max_tokens')}"
    )
    # Word-sized chunks with their spaces, like a tokenizer's output.
    words = text.split(" ")
    return [w + " " for w in words[:-1]] + [words[-1]]


def http_reasoning(model: str) -> list[str] | None:
    """The reasoning chunks a reasoning model sends before its reply (the data stream has them)."""
    if any(marker in model for marker in HTTP_REASONING_MARKERS):
        return ["Let me think. ", "The user wants an echo."]
    return None


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


# -- the Agents SDK server ------------------------------------------------------------------

AGENTS_REASONING_MARKERS = re.compile("qwq|deepseek-r1")
RATE_LIMIT_BODY = json.dumps(
    {
        "message": "The model is currently rate limited. Please try again later or choose a"
        " different model.",
        "details": "3021: rate limiting: too many requests for this model, please retry later",
    },
    separators=(",", ":"),
)
# JavaScript's \s, so that replies are cut where the Worker used to cut them.
_JS_SPACE = "\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_JS_PIECE = re.compile(f"[^{_JS_SPACE}]+[{_JS_SPACE}]*|[{_JS_SPACE}]+")
# The Agents server's triggers take ASCII digits (JavaScript's \d).
_AGENTS_LONG = re.compile(r"\[long:([0-9]+)\]")
_AGENTS_SLOW = re.compile(r"\[slow(?::([0-9]+))?\]")
# [drip:N:MS]: N text deltas "d0 ", "d1 ", ... each after MS ms (a reply still running when a
# client that lost its connection comes back).
_AGENTS_DRIP = re.compile(r"\[drip:([0-9]+):([0-9]+)\]")
# [pace:MS]: the reply it would give (the echo, say), each delta after MS ms: a reply about an
# image still running when a client that lost its connection comes back.
_AGENTS_PACE = re.compile(r"\[pace:([0-9]+)\]")
_AGENTS_ERROR = re.compile(r"\[error:([^\]]*)\]")


def agents_script(request: dict[str, Any]) -> dict[str, Any]:
    """What the Agents server's model does for one chat request.

    ``request`` is what the Worker sends (``tests/agents_server/src/index.ts``): the room's state
    as the echo prints it (``model``, ``temperature``, ``system``; strings), ``chatModel`` (is the
    model a chat model of the Worker's catalog?) and ``messages``, the room's history as
    ``{"role", "text"}`` objects, and ``images``: every image the model was handed (``mediaType``,
    ``bytes``, ``sha256``, ``userMessage``), which the echo reports one line each, as
    ``image N: image/png 68 bytes sha256=<hex> in user message M``, before the last user line
    (the Worker asks again with them once the AI SDK has handed the model its prompt). The
    answer tells ``onChatMessage`` what to do (``respond``:
    ``"stream"``, ``"no-response"`` or ``"throw"``) and the scripted model what to stream:
    ``reasoning`` and ``text`` deltas, ``delayMs`` before each delta, ``finishReason``, or an
    error (``errorBefore``: thrown before any part; ``errorAfter``: a stream error after the
    text), with ``exposed`` saying whether the client sees its message or the AI SDK's
    ``An error occurred.``.
    """
    model, temperature = str(request.get("model", "")), str(request.get("temperature", ""))
    system = str(request.get("system", ""))
    messages = [
        (str(m.get("role", "")), str(m.get("text", ""))) for m in request.get("messages") or []
    ]
    user_text = next((text for role, text in reversed(messages) if role == "user"), "")
    script: dict[str, Any] = {
        "respond": "stream",
        "reasoning": [],
        "text": [],
        "delayMs": 0,
        "finishReason": "stop",
        "errorBefore": None,
        "errorAfter": None,
    }
    if "[no-response]" in user_text:
        return {**script, "respond": "no-response"}
    if "[throw]" in user_text:
        return {**script, "respond": "throw"}

    system_messages = [text for role, text in messages if role == "system"]
    shown = " | ".join(map(without_tool_section, system_messages)) if system_messages else "(none)"
    echo = (
        "Echo from the mock model.\n"
        f"model: {model}\n"
        f"temperature: {temperature}\n"
        f"system (state): {without_tool_section(system)}\n"
        f"system (messages): {shown}\n"
        f"messages: {len(messages)}\n"
        f"roles: {','.join(role for role, _ in messages)}\n"
        f"{_image_lines(request.get('images') or [])}"
        f"last user: {_AVAILABLE_TOOLS.sub('[tools]', user_text)}"
    )
    script["text"] = _word_pairs(echo)
    # A model that follows the tool format: a tool call or an answer from tool results; None
    # when it would answer in words, as below.
    instructions = "\n".join([system, *system_messages])
    users = [text for role, text in messages if role == "user"]
    assistants = [text for role, text in messages if role == "assistant"]
    tool_text = tool_reply(instructions, users, model, assistants)
    if tool_text is not None:
        script["text"] = _word_pairs(tool_text)
    elif JSON_INSTRUCTION in instructions:
        script["text"] = _word_pairs(_js_json(object_for(instructions, user_text)))

    if not request.get("chatModel"):
        script["errorBefore"] = {"message": "5007: No such model", "exposed": True}
        return script
    if AGENTS_REASONING_MARKERS.search(model) or "[reasoning]" in user_text:
        script["reasoning"] = _word_pairs(
            f"Let me think about this. The user wrote {_js_json(user_text)}."
            " I should answer with an echo."
        )
    _apply_triggers(script, user_text, tool_mode=tool_text is not None)
    return script


def image_report(media_type: str, size: int, sha256: str, user_message: int) -> str:
    """How the echo reports one image the model was handed (the value of its ``image N`` line)."""
    return f"{media_type} {size} bytes sha256={sha256} in user message {user_message}"


def _image_lines(images: list[dict[str, Any]]) -> str:
    lines = []
    for number, image in enumerate(images, 1):
        report = image_report(
            str(image.get("mediaType")),
            int(image.get("bytes", 0)),
            str(image.get("sha256")),
            int(image.get("userMessage", 0)),
        )
        lines.append(f"image {number}: {report}\n")
    return "".join(lines)


def _apply_triggers(script: dict[str, Any], user_text: str, *, tool_mode: bool) -> None:
    error = _AGENTS_ERROR.search(user_text)
    long = _AGENTS_LONG.search(user_text)
    if "[error-before-text]" in user_text:
        script["errorBefore"] = {"message": "scripted failure before any text", "exposed": False}
    elif "[rate-limit]" in user_text:
        script["errorBefore"] = {"message": RATE_LIMIT_BODY, "exposed": True}
    elif error:
        script["errorBefore"] = {"message": error.group(1), "exposed": True}
    elif "[error-after-text]" in user_text:
        script["text"] = ["Partial ", "answer ", "before ", "the ", "failure"]
        script["errorAfter"] = {"message": "scripted failure after some text", "exposed": False}
    elif "[empty]" in user_text:
        script["reasoning"] = []
        script["text"] = []
    elif long:
        script["text"] = [f"t{i} " for i in range(min(int(long.group(1)), _MAX_LONG))]
    elif "[length]" in user_text:
        script["finishReason"] = "length"
    slow = _AGENTS_SLOW.search(user_text)
    if slow:
        script["delayMs"] = int(slow.group(1)) if slow.group(1) is not None else 3000
        # In the tool format the reply is slowed down, not replaced: a slow tool call.
        if not tool_mode:
            script["text"] = ["Slow ", "reply, ", "done."]
    pace = _AGENTS_PACE.search(user_text)
    if pace:
        script["delayMs"] = int(pace.group(1))
    drip = _AGENTS_DRIP.search(user_text)
    if drip:
        script["text"] = [f"d{i} " for i in range(min(int(drip.group(1)), 1000))]
        script["delayMs"] = int(drip.group(2))
    if "[repeat-newline]" in user_text:
        # Identical consecutive deltas must all be kept by a client.
        script["text"] = ["a", "\n", "\n", "b"]


def _word_pairs(text: str) -> list[str]:
    """``text`` in deltas of two words each, every word with the space after it."""
    pieces = _JS_PIECE.findall(text)
    return ["".join(pieces[i : i + 2]) for i in range(0, len(pieces), 2)]


def _js_json(value: object) -> str:
    """JSON as JavaScript's ``JSON.stringify`` writes it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


# -- JSON instructions ----------------------------------------------------------------------

_SAMPLE_VALUES: dict[str, Any] = {
    "integer": 3,
    "number": 1.5,
    "boolean": True,
    "array": [],
    "object": {},
}


def object_for(instructions: str, request: str) -> dict[str, Any]:
    """A JSON object for the schema quoted in ``instructions`` (its strings echo ``request``).

    The schema is the line after ``JSON schema:``; without one (or one it cannot read) the object
    is ``{"echo": request}``.
    """
    _, mark, quoted = instructions.partition(JSON_SCHEMA_MARK)
    try:
        schema = json.loads(quoted.split("\n", 1)[0]) if mark else {}
    except ValueError:
        schema = {}
    properties = schema.get("properties") if isinstance(schema, dict) else None
    if not isinstance(properties, dict) or not properties:
        properties = {"echo": {"type": "string"}}
    out: dict[str, Any] = {}
    for name, spec in properties.items():
        kind = spec.get("type", "string") if isinstance(spec, dict) else "string"
        out[name] = request if kind == "string" else _SAMPLE_VALUES.get(str(kind))
    return out


# -- the tool format ------------------------------------------------------------------------

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
# Mistral's tools, before the request (they are not part of what the request asks).
_AVAILABLE_TOOLS = re.compile(r"\[AVAILABLE_TOOLS\].*?\[/AVAILABLE_TOOLS\]", re.DOTALL)


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


def tool_reply(
    system: str, users: list[str], model: str = "", assistants: Sequence[str] = ()
) -> str | None:
    """The scripted model's answer in the tool format, or ``None`` to answer as usual.

    ``users`` and ``assistants`` are the texts of the user and assistant messages, oldest
    first. Results that do not name the calls of the last assistant turn (for a family whose
    calls carry ids) get an answer that says so. A model of a family with a
    format of its own (``tests/scripted_families.py``, by ``model`` id) takes tools offered only
    in that format and writes its calls natively; any other model takes the generic format.
    Tool results get a plain answer quoting them; a request gets calls for the tools it names
    (by their full name, else by the words of one name), or for the first tool when a call is
    required. Arguments come from the request: quoted strings, then capitalized phrases for
    strings, numbers in order for numbers, an enum value the request mentions. After a
    correction (``Your last reply could not be used: ...``) the request is the one before it.
    """
    family = family_for(model)
    read_results = (family.read_results if family else None) or _tool_results
    last = users[-1] if users else ""
    request = next(
        (
            text
            for text in reversed(users)
            if not text.startswith(FORMAT.correction) and read_results(text) is None
        ),
        "",
    )
    offer = _offer(family, system, request)
    if offer is None:
        return None
    tools, named, required = offer
    request = _AVAILABLE_TOOLS.sub("", request)
    results = read_results(last)
    if results is not None:
        answer_calls = family.results_answer_calls if family else None
        if answer_calls and not answer_calls(last, assistants[-1] if assistants else ""):
            return "These results do not name the calls I made."
        return f"The tool answered: {'; '.join(results)}."
    correcting = last.startswith(FORMAT.correction)
    if "[prose]" in request:
        return "I would rather answer in words."
    text = _TRIGGER.sub("", request).strip()
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
    return _written_calls(family, calls, fenced="[fenced]" in request)


def _offer(
    family: ScriptedFamily | None, system: str, request: str
) -> tuple[list[_ToolSpec], str | None, bool] | None:
    """The tools offered in the way this model reads, the tool named by the choice, whether a
    call is due; ``None`` when no tools were offered that way."""
    if family is None:
        lines = [line.removesuffix("\r") for line in system.split("\n")]
        return _tool_section(lines) if FORMAT.heading in lines else None
    offered = family.read_tools(system, request)
    if offered is None:
        return None
    named = FORMAT.named_choice.search(system)
    tools = [_ToolSpec(tool.name, tool.schema) for tool in offered]
    return tools, named.group(1) if named else None, FORMAT.required_choice in system


def _written_calls(
    family: ScriptedFamily | None, calls: list[dict[str, Any]], *, fenced: bool
) -> str:
    """The calls as this model writes them; ``fenced``: with prose first (JSON in a fence)."""
    if family is not None and (family.name != "llama-json" or not fenced):
        return family.write_calls("I will use a tool.\n" if fenced else "", calls)
    if family is not None:
        payload = family.write_calls("", calls)
    else:
        payload = json.dumps({"tool_calls": calls}, ensure_ascii=False)
    return f"I will use a tool.\n```json\n{payload}\n```\n" if fenced else payload


def without_tool_section(system: str) -> str:
    """``system`` with its tool section folded to ``[tools: a, b]``, for the echo.

    A model answering in words does not repeat the call format, whose template a client would
    take for a broken call. A family's own section (``# Tools`` to the end, where the client
    puts it) and Mistral's ``[AVAILABLE_TOOLS]`` fold the same way.
    """
    lines = system.split("\n")
    bare = [line.removesuffix("\r") for line in lines]
    if FORMAT.heading not in bare:
        listed = _AVAILABLE_TOOLS.sub("[tools]", system)
        if FORMAT.section not in bare:
            return listed
        return "\n".join([*lines[: bare.index(FORMAT.section)], "[tools]"])
    heading = bare.index(FORMAT.heading)
    start = max((i for i in range(heading) if bare[i] == FORMAT.section), default=heading)
    end = next((i for i in range(heading + 1, len(bare)) if bare[i].startswith("# ")), len(bare))
    names = ", ".join(tool.name for tool in _tool_section(bare)[0])
    return "\n".join([*lines[:start], f"[tools: {names}]", *lines[end:]])


def _tool_results(text: str) -> list[str] | None:
    """The result texts of a tool-results message, or ``None`` for any other message."""
    if not text.startswith(FORMAT.result_starts):
        return None
    blocks: list[list[str]] = []
    for line in text.split("\n"):
        header = FORMAT.result_header.fullmatch(line.removesuffix("\r"))
        if header is not None or not blocks:
            blocks.append([header.group(1)] if header is not None and header.group(1) else [])
        else:
            blocks[-1].append(line)
    return ["\n".join(block).strip() for block in blocks]


def _tool_section(lines: list[str]) -> tuple[list[_ToolSpec], str | None, bool]:
    """The tools listed before the heading, the tool named by the choice, whether one is due."""
    heading = lines.index(FORMAT.heading)
    tools: list[_ToolSpec] = []
    name: str | None = None
    for line in lines[:heading]:
        if line.startswith(FORMAT.tool_prefix):
            name = line[len(FORMAT.tool_prefix) :].strip()
        elif line.startswith("#"):
            name = None
        elif name and line.startswith(FORMAT.schema_prefix):
            try:
                schema = json.loads(line[len(FORMAT.schema_prefix) :])
            except ValueError:
                schema = {}
            tools.append(_ToolSpec(name, schema if isinstance(schema, dict) else {}))
            name = None
    rules = "\n".join(lines[heading + 1 :])
    named = FORMAT.named_choice.search(rules)
    return tools, named.group(1) if named else None, FORMAT.required_choice in rules


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
    # JSON.stringify writes 2.0 as 2; so does this, as the model did when it was also in JS.
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


# -- the endpoint the Agents Worker asks --------------------------------------------------


class WorkerReports:
    """What the Worker told the scripted model, for tests to wait on (events, not sleeps).

    ``requests``: every chat request it asked a script for (``room``, ``text``: the last user
    message, ``script``: what ``agents_script`` answered). ``streams``: how each slowed reply (a
    delay before each delta: ``[slow]``, ``[drip]``) ended, as the Worker saw it (``room``;
    ``ended``: ``"finished"`` when read to its end, ``"cancelled"`` when the client cancelled it;
    ``written``: the deltas handed to the SDK by then; ``total``: the deltas of the script).
    """

    def __init__(self) -> None:
        """Nothing reported yet."""
        self._changed = threading.Condition()
        self._kinds: dict[str, list[dict[str, Any]]] = {"requests": [], "streams": []}

    def add(self, kind: str, report: dict[str, Any]) -> None:
        """Keep ``report`` and wake every waiter."""
        with self._changed:
            self._kinds[kind].append(report)
            self._changed.notify_all()

    def wait(self, kind: str, key: str, value: str, seconds: float) -> dict[str, Any] | None:
        """The first report of ``kind`` whose ``key`` holds ``value``, waiting up to ``seconds``."""

        def found() -> dict[str, Any] | None:
            return next((r for r in self._kinds[kind] if value in str(r.get(key, ""))), None)

        with self._changed:
            return self._changed.wait_for(found, seconds)


_MAX_WAIT = 120.0  # seconds a report may be waited for in one GET


class _ScriptHandler(BaseHTTPRequestHandler):
    """``POST /``: the Worker's chat request, answered with ``agents_script``'s JSON.

    ``POST /streams``: the Worker reports how a slowed reply ended. ``GET /requests?text=T`` and
    ``GET /streams?room=R`` (with ``&wait=S``) answer with the first report that matches, once
    there is one (404 if none came within ``S`` seconds).
    """

    protocol_version = "HTTP/1.1"  # keep-alive: the Worker may reuse the connection
    # Headers and body go out in two writes: with Nagle's algorithm the body would wait for the
    # Worker's delayed ACK of the headers (up to 40 ms on Linux), a noise larger than anything
    # the benchmarks measure.
    disable_nagle_algorithm = True
    server: _ScriptServer

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path == "/streams":
            self.server.reports.add("streams", json.loads(raw))
            self._answer(204, b"")
            return
        try:
            request = json.loads(raw)
            users = [m for m in request.get("messages") or [] if m.get("role") == "user"]
            text = str(users[-1].get("text", "")) if users else ""
            script = agents_script(request)
            self.server.reports.add(
                "requests", {"room": request.get("room"), "text": text, "script": script}
            )
            self._answer(200, json.dumps(script).encode(), "application/json")
        except Exception as exc:  # the Worker logs it and fails the chat request
            self._answer(500, f"the scripted model failed: {exc!r}".encode())

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        kind, key = {"/requests": ("requests", "text"), "/streams": ("streams", "room")}.get(
            url.path, ("", "")
        )
        if not kind or key not in query:
            self._answer(404, b"GET /requests?text=T or /streams?room=R")
            return
        seconds = min(float(query.get("wait", "0")), _MAX_WAIT)
        report = self.server.reports.wait(kind, key, query[key], seconds)
        if report is None:
            self._answer(404, f"no report of {kind} with {key} {query[key]!r}".encode())
        else:
            self._answer(200, json.dumps(report).encode(), "application/json")

    def _answer(self, status: int, payload: bytes, content_type: str = "text/plain") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (the base's name)
        """Quiet: one line per chat request would drown the test output."""


class _ScriptServer(ThreadingHTTPServer):
    """A thread per request, and a listen backlog for a room full of conversations at once.

    The default backlog (5) overflows when hundreds of conversations ask at once (the
    benchmarks run 200): the kernel then drops connection attempts and each waits out TCP's
    retry backoff.
    """

    request_queue_size = 1024

    def __init__(self, address: tuple[str, int]) -> None:
        """Serve ``_ScriptHandler`` on ``address``, with no reports yet."""
        super().__init__(address, _ScriptHandler)
        self.reports = WorkerReports()


def main() -> None:
    """Serve ``agents_script`` on loopback until stopped; print the URL first."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0, help="0 (the default): a free port")
    args = parser.parse_args()
    server = _ScriptServer(("127.0.0.1", args.port))
    server.daemon_threads = True
    sys.stdout.write(f"scripted model on http://127.0.0.1:{server.server_address[1]}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()

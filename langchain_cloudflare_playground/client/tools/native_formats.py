"""Tool calls in the formats model families were trained to write, whatever prompt they got.

Each format is one entry of :data:`FORMATS`: the family that writes it, the text that opens it
(the streaming splitter holds from there) and a small reader. The facts, with their sources, are
in ``docs/tool-formats.md``. Four kinds of reader cover them all:

* :class:`_JsonAfterToken`: a special token, then call-shaped JSON (Mistral ``[TOOL_CALLS][...]``,
  Granite ``<|tool_call|>[...]``, Llama 3.1 ``<|python_tag|>{...}``, Phi-4 ``functools[...]``);
* :class:`_HeaderThenArguments`: a header naming the tool, then its arguments as a JSON object
  (Mistral ``[ARGS]``, DeepSeek, Kimi K2, gpt-oss harmony) or in Gemma 4's own syntax
  (``<|tool_call>call:name{key:<|"|>text<|"|>}``, ``gemma4_syntax``);
* :class:`_TaggedArguments`: a name and one tag pair per argument (GLM ``<arg_key>``, Qwen3-Coder
  ``<parameter=...>``, which Qwen 3.5+, Nemotron 3 and Granite 4.2+ write too);
* :class:`_PythonicCalls`: Python call syntax, read with :mod:`ast` as literals only, never run
  (Llama 3.2/4 ``[f(a=1)]``, Llama 4 ``<|python_start|>``, Gemma ``tool_code`` fences).

The rules are the generic reader's: only text shaped like a call is read as one (a special token
alone, a bracket in prose or JSON that is not call-shaped stays text), and a reader that sees its
own special tokens around something it cannot read says so, for the model to fix.
"""

from __future__ import annotations

import ast
import bisect
import itertools
import re
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from langchain_cloudflare_playground.client.tools.call_shapes import (
    RawCall,
    arguments_value,
    as_calls,
)
from langchain_cloudflare_playground.client.tools.gemma4_syntax import read_value
from langchain_cloudflare_playground.client.tools.lenient_json import (
    find_json_spans,
    json_end,
    loads_lenient,
)
from langchain_cloudflare_playground.client.tools.spec import Tool

__all__ = ["FORMATS", "OPENINGS", "Found", "NativeFormat", "find_native_calls"]

Tools = Mapping[str, Tool]
# A tool name as the native formats write it: no spaces, quotes, brackets or special-token bars.
_NAME = r"[^\s\"'<>|\uff5c{}\[\](),:=`]+"
# How far back and ahead a format's surrounding tokens (section markers, end of turn) are looked
# for; they are short, and a bound keeps the search linear.
_NEAR = 64
# Openings of one format read per reply. A reply holds a few calls; the cap keeps text made of
# thousands of unclosed openings linear to read (each may be scanned to the end of the text).
_MAX_OPENINGS = 32


@dataclass(frozen=True, slots=True)
class Found:
    """Calls read from ``text[start:end]``, or (with ``broken``) a call that could not be read."""

    start: int
    end: int
    calls: tuple[RawCall, ...] = ()
    broken: str | None = None


class _Reader:
    def find(self, text: str, tools: Tools) -> Iterator[Found]:
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class NativeFormat:
    """One family's way of writing calls: who writes it, what opens it, and its reader."""

    family: str
    openings: tuple[str, ...]
    reader: _Reader


def _swallow(text: str, start: int, end: int, around: re.Pattern[str] | None) -> tuple[int, int]:
    """``start``/``end`` widened over the format's own tokens right before and after the call."""
    if around is None:
        return start, end
    while True:
        window = max(0, start - _NEAR)
        before = around.search(text[window:start])
        if before is None or text[window + before.end() : start].strip():
            break
        start = window + before.start()
    while True:
        after = around.match(text, _skip_space(text, end))
        if after is None:
            break
        end = after.end()
    return start, end


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index].isspace():
        index += 1
    return index


def _tokens(*tokens: str) -> re.Pattern[str]:
    return re.compile("|".join(re.escape(token) for token in tokens))


@dataclass(frozen=True, slots=True)
class _JsonAfterToken(_Reader):
    """``token`` then call-shaped JSON, as the generic reader reads it."""

    token: re.Pattern[str]
    around: re.Pattern[str] | None = None

    def find(self, text: str, tools: Tools) -> Iterator[Found]:
        for match in itertools.islice(self.token.finditer(text), _MAX_OPENINGS):
            start = _skip_space(text, match.end())
            end = json_end(text, start)
            if end is None:
                continue  # unreadable JSON is the generic reader's to report
            try:
                calls = as_calls(loads_lenient(text[start:end]), tools)
            except ValueError:
                continue
            if calls:
                yield Found(*_swallow(text, match.start(), end, self.around), tuple(calls))


def _json_arguments(text: str, start: int) -> tuple[object, int] | None:
    """The JSON arguments at ``text[start:]`` and where they end; ``None`` if they never close."""
    end = json_end(text, start)
    if end is None:
        return None
    return arguments_value(loads_lenient(text[start:end])), end


@dataclass(frozen=True, slots=True)
class _HeaderThenArguments(_Reader):
    """A header with the tool's name (group ``name``), the arguments, then ``footer``.

    ``read`` reads the arguments (JSON, or Gemma 4's syntax). With ``known_only`` the header is
    also ordinary text: only calls of offered tools count, and nothing unreadable is reported.
    """

    header: re.Pattern[str]
    footer: re.Pattern[str]
    around: re.Pattern[str] | None = None
    name_prefix: str = ""
    read: Callable[[str, int], tuple[object, int] | None] = _json_arguments
    known_only: bool = False

    def find(self, text: str, tools: Tools) -> Iterator[Found]:
        for match in itertools.islice(self.header.finditer(text), _MAX_OPENINGS):
            name = match["name"].removeprefix(self.name_prefix)
            if self.known_only and name not in tools:
                continue
            try:
                read = self.read(text, _skip_space(text, match.end()))
            except ValueError as exc:
                read, reason = None, f"the arguments of {name!r}: {str(exc).split(':', 1)[0]}"
            else:
                reason = f"the arguments of {name!r} after {match.group().strip()!r} do not close"
            footer = self.footer.match(text, read[1]) if read is not None else None
            if read is None or footer is None:
                if not self.known_only:
                    yield Found(match.start(), match.end(), broken=reason)
                continue
            span = _swallow(text, match.start(), footer.end(), self.around)
            yield Found(*span, (RawCall(name, read[0]),))


@dataclass(frozen=True, slots=True)
class _TaggedArguments(_Reader):
    """A header with the name, then ``argument`` (groups ``key``, ``value``) repeated, ``footer``.

    Values are text: a string argument is taken as written, anything else read as JSON when it
    is JSON (the templates write non-strings with ``tojson``), else left as text for the check.
    """

    header: re.Pattern[str]
    argument: re.Pattern[str]
    footer: re.Pattern[str]

    def find(self, text: str, tools: Tools) -> Iterator[Found]:
        for match in itertools.islice(self.header.finditer(text), _MAX_OPENINGS):
            name = match["name"]
            tool = tools.get(name)
            position = match.end()
            arguments: dict[str, object] = {}
            while (argument := self.argument.match(text, position)) is not None:
                arguments[argument["key"].strip()] = _tagged_value(
                    argument["value"], _property(tool, argument["key"].strip())
                )
                position = argument.end()
            footer = self.footer.match(text, position)
            if footer is None:
                if tool is not None:
                    yield Found(
                        match.start(), match.end(), broken=f"the call of {name!r} never closes"
                    )
                continue
            if not arguments and tool is None:
                continue  # a bare word in tags is a call only to a known tool
            yield Found(match.start(), footer.end(), (RawCall(name, arguments),))


def _property(tool: Tool | None, key: str) -> object:
    properties = tool.parameters.get("properties") if tool is not None else None
    return properties.get(key) if isinstance(properties, Mapping) else None


def _tagged_value(raw: str, schema: object) -> object:
    # The templates put each value on its own lines (Qwen3-Coder) or right inside the tags (GLM).
    raw = raw.removeprefix("\n").removesuffix("\n")
    kinds = _schema_types(schema)
    if kinds == {"string"}:
        return raw
    try:
        value = loads_lenient(raw)
    except ValueError:
        return raw
    # A string argument that may also be something else ("string or null") is written as it is:
    # "0" there is the text 0 unless the schema takes a number too.
    if "string" in kinds and not kinds & _JSON_TYPES.get(type(value), set()):
        return raw
    return value


_JSON_TYPES: dict[type, set[str]] = {
    type(None): {"null"},
    bool: {"boolean"},
    int: {"integer", "number"},
    float: {"number"},
    str: {"string"},
    list: {"array"},
    dict: {"object"},
}


def _schema_types(schema: object) -> set[str]:
    """The JSON types a schema names, at its top and in its ``anyOf``/``oneOf`` branches."""
    if not isinstance(schema, Mapping):
        return set()
    kind = schema.get("type")
    kinds = {kind} if isinstance(kind, str) else {k for k in kind or () if isinstance(k, str)}
    for key in ("anyOf", "oneOf"):
        branches = schema.get(key)
        for branch in branches if isinstance(branches, list) else ():
            kinds |= _schema_types(branch)
    return kinds


_NOT_LITERAL = object()


@dataclass(frozen=True, slots=True)
class _PythonicCalls(_Reader):
    """Python calls with keyword arguments of literal values: ``[f(a=1), g(b="x")]``.

    Inside a wrapper (group ``body``) any name counts and one call per line is allowed. Bare, the
    list must stand on lines of its own and call only offered tools: ``[f(x=1)]`` is also code.
    """

    wrappers: tuple[re.Pattern[str], ...]
    around: re.Pattern[str] | None = None

    def find(self, text: str, tools: Tools) -> Iterator[Found]:
        for wrapper in self.wrappers:
            for match in itertools.islice(wrapper.finditer(text), _MAX_OPENINGS):
                calls = _pythonic(match["body"], tools, bare=False)
                if calls:
                    yield Found(*_swallow(text, match.start(), match.end(), self.around), calls)
        for span in find_json_spans(text):
            if not span.closed or text[span.start] != "[":
                continue
            line_start = text.rfind("\n", 0, span.start) + 1
            line_end = text.find("\n", span.end)
            rest = text[span.end :] if line_end < 0 else text[span.end : line_end]
            if text[line_start : span.start].strip() or rest.strip():
                continue  # inside a sentence: an example, not a call
            calls = _pythonic(text[span.start : span.end], tools, bare=True)
            if calls:
                yield Found(*_swallow(text, span.start, span.end, self.around), calls)


def _pythonic(body: str, tools: Tools, *, bare: bool) -> tuple[RawCall, ...]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escapes in strings warn; they are text
            tree = ast.parse(body.strip(), mode="exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return ()
    if bare and not (
        len(tree.body) == 1
        and isinstance(tree.body[0], ast.Expr)
        and isinstance(tree.body[0].value, ast.List)
    ):
        return ()
    nodes: list[ast.expr] = []
    for statement in tree.body:
        if not isinstance(statement, ast.Expr):
            return ()
        value = statement.value
        nodes.extend(value.elts if isinstance(value, (ast.List, ast.Tuple)) else [value])
    calls: list[RawCall] = []
    for node in nodes:
        call = _pythonic_call(node)
        if call is None or (bare and call.name not in tools):
            return ()
        calls.append(call)
    return tuple(calls)


def _pythonic_call(node: ast.expr) -> RawCall | None:
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name) or node.args:
        return None
    arguments: dict[str, object] = {}
    for keyword in node.keywords:
        if keyword.arg is None:  # **kwargs
            return None
        value = _literal(keyword.value)
        if value is _NOT_LITERAL:
            return None
        arguments[keyword.arg] = value
    return RawCall(node.func.id, arguments)


def _literal(node: ast.expr) -> object:
    """The JSON value a literal stands for; never evaluates anything else."""
    try:
        value = ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return _NOT_LITERAL
    return _as_json(value)


def _as_json(value: Any) -> object:  # noqa: ANN401 (a literal of any type)
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, (list, tuple)):
        items = [_as_json(item) for item in value]
        return _NOT_LITERAL if any(item is _NOT_LITERAL for item in items) else items
    if isinstance(value, dict) and all(isinstance(key, str) for key in value):
        pairs = {key: _as_json(item) for key, item in value.items()}
        return _NOT_LITERAL if any(item is _NOT_LITERAL for item in pairs.values()) else pairs
    return _NOT_LITERAL  # sets, bytes, complex numbers: not JSON


def _deepseek_token(words: str) -> str:
    """A DeepSeek special token: full-width bars, words joined by U+2581 (``tool calls begin``)."""
    joined = words.replace(" ", "\u2581")
    return f"<\uff5c{joined}\uff5c>"


def _deepseek(words: str) -> str:
    return re.escape(_deepseek_token(words))


_LLAMA_END = _tokens("<|eom_id|>", "<|eot_id|>", "<|eom|>", "<|eot|>")
_DEEPSEEK_AROUND = re.compile(
    "|".join(_deepseek(word) for word in ("tool calls begin", "tool calls end", "end of sentence"))
)

FORMATS: tuple[NativeFormat, ...] = (
    NativeFormat(
        "Mistral (v0.3, Small 3.1): [TOOL_CALLS] then a JSON list",
        ("[TOOL_CALLS]",),
        _JsonAfterToken(_tokens("[TOOL_CALLS]"), _tokens("</s>")),
    ),
    NativeFormat(
        "Mistral (tokenizer v11+, Small 3.2, Magistral): [TOOL_CALLS]name[ARGS]{...} or name{...}",
        ("[TOOL_CALLS]",),
        _HeaderThenArguments(
            # [ARGS] is a special token; servers that drop those leave the JSON right
            # after the name, so only then does "name{" count without it.
            re.compile(
                rf"\[TOOL_CALLS\]\s*(?P<name>{_NAME})"
                r"(?:\s*(?:\[CALL_ID\]\s*\w+\s*)?\[ARGS\]|(?=\{))"
            ),
            re.compile(""),
            _tokens("</s>"),
        ),
    ),
    NativeFormat(
        "IBM Granite 3: <|tool_call|> then a JSON list",
        ("<|tool_call|>",),
        _JsonAfterToken(_tokens("<|tool_call|>"), _tokens("<|end_of_text|>")),
    ),
    NativeFormat(
        "Meta Llama 3.1/3.3: <|python_tag|> then a JSON call",
        ("<|python_tag|>",),
        _JsonAfterToken(_tokens("<|python_tag|>"), _LLAMA_END),
    ),
    NativeFormat(
        "Microsoft Phi-4-mini: functools[...]",
        ("functools[",),
        _JsonAfterToken(re.compile(r"functools(?=\[)")),
    ),
    NativeFormat(
        "DeepSeek V3/R1 and V3.1",
        (_deepseek_token("tool calls begin"), _deepseek_token("tool call begin")),
        _HeaderThenArguments(
            re.compile(
                rf"{_deepseek('tool call begin')}\s*(?:function\s*{_deepseek('tool sep')}\s*)?"
                rf"(?P<name>{_NAME})\s*(?:{_deepseek('tool sep')}\s*)?(?:```(?:json)?)?"
            ),
            re.compile(rf"\s*(?:```\s*)?{_deepseek('tool call end')}"),
            _DEEPSEEK_AROUND,
        ),
    ),
    NativeFormat(
        "Moonshot Kimi K2",
        ("<|tool_calls_section_begin|>", "<|tool_call_begin|>"),
        _HeaderThenArguments(
            re.compile(
                rf"<\|tool_call_begin\|>\s*(?P<name>{_NAME})(?::\d+)?\s*"
                r"<\|tool_call_argument_begin\|>"
            ),
            re.compile(r"\s*<\|tool_call_end\|>"),
            _tokens("<|tool_calls_section_begin|>", "<|tool_calls_section_end|>", "<|im_end|>"),
            name_prefix="functions.",
        ),
    ),
    NativeFormat(
        "OpenAI gpt-oss (harmony)",
        ("<|start|>", "<|channel|>", "to=functions."),
        _HeaderThenArguments(
            re.compile(
                r"(?:<\|start\|>\s*assistant\s*)?(?:<\|channel\|>\s*commentary\s*)?"
                rf"to=functions\.(?P<name>{_NAME})\s*(?:<\|channel\|>\s*commentary\s*)?"
                r"(?:<\|constrain\|>\s*)?(?:json\s*)?<\|message\|>"
            ),
            re.compile(r"\s*(?:<\|call\|>|<\|end\|>)?"),
            _tokens("<|return|>"),
        ),
    ),
    NativeFormat(
        'Google Gemma 4: <|tool_call>call:name{key:<|"|>value<|"|>}<tool_call|>',
        ("<|tool_call>",),
        _HeaderThenArguments(
            re.compile(rf"<\|tool_call>\s*call:(?P<name>{_NAME})(?=\{{)"),
            re.compile(r"\s*<tool_call\|>"),
            # The template writes <|tool_response> straight after the calls: the model ends so.
            _tokens("<|tool_response>", "<turn|>"),
            read=read_value,
        ),
    ),
    NativeFormat(
        # Servers that drop special tokens leave call:name{key:value}, strings bare; that is
        # also text, so only offered tools count, not after a letter ("recall:"). No literal
        # opening: the streaming splitter holds from "call:name{" (prose_splitter). A call
        # whose closing token never came (a server stopping on it) is read here too.
        "Google Gemma 4, special tokens dropped: call:name{key:value}",
        (),
        _HeaderThenArguments(
            re.compile(rf"(?<![\w.])call:(?P<name>{_NAME})(?=\{{)"),
            re.compile(""),
            _tokens("<|tool_call>", "<|tool_response>", "<turn|>"),
            read=read_value,
            known_only=True,
        ),
    ),
    NativeFormat(
        "Zhipu GLM 4.5+: <tool_call>name<arg_key>k</arg_key><arg_value>v</arg_value></tool_call>",
        ("<tool_call>",),
        _TaggedArguments(
            re.compile(rf"<tool_call>\s*(?P<name>{_NAME})\s*"),
            re.compile(
                r"<arg_key>(?P<key>.*?)</arg_key>\s*<arg_value>(?P<value>.*?)</arg_value>\s*",
                re.DOTALL,
            ),
            re.compile(r"</tool_call>"),
        ),
    ),
    NativeFormat(
        # Also Qwen 3.5+, Nemotron 3 and Granite 4.2+ (docs/tool-formats.md).
        "Qwen3-Coder: <tool_call><function=name><parameter=k>v</parameter></function></tool_call>",
        ("<tool_call>",),
        _TaggedArguments(
            re.compile(rf"<tool_call>\s*<function=(?P<name>{_NAME})>\s*"),
            re.compile(r"<parameter=(?P<key>[^>]+)>(?P<value>.*?)</parameter>\s*", re.DOTALL),
            re.compile(r"</function>\s*</tool_call>"),
        ),
    ),
    NativeFormat(
        "Meta Llama 3.2/4 and Google Gemma: pythonic calls",
        ("<|python_start|>",),
        _PythonicCalls(
            (
                re.compile(r"<\|python_start\|>(?P<body>.*?)(?:<\|python_end\|>|\Z)", re.DOTALL),
                re.compile(r"```tool_code[ \t]*\n(?P<body>.*?)```", re.DOTALL),
            ),
            _LLAMA_END,
        ),
    ),
)
"""Every native format, in one place; the parser and the streaming splitter read this table."""

OPENINGS: tuple[str, ...] = tuple(sorted({opening for f in FORMATS for opening in f.openings}))
"""Literal text that opens a native call: from here on, a stream may be a call."""


def find_native_calls(text: str, tools: Tools) -> list[Found]:
    """The native calls in ``text``, in order, none overlapping; readable calls win over broken."""
    found = [hit for native in FORMATS for hit in native.reader.find(text, tools)]
    readable = sorted((hit for hit in found if hit.broken is None), key=_earliest_longest)
    kept: list[Found] = []
    for hit in readable:
        if not kept or kept[-1].end <= hit.start:
            kept.append(hit)
    starts = [hit.start for hit in kept]
    for hit in sorted((hit for hit in found if hit.broken is not None), key=_earliest_longest):
        index = bisect.bisect_left(starts, hit.start)
        before_ok = index == 0 or kept[index - 1].end <= hit.start
        after_ok = index == len(kept) or hit.end <= kept[index].start
        if before_ok and after_ok:
            kept.insert(index, hit)
            starts.insert(index, hit.start)
    return kept


def _earliest_longest(hit: Found) -> tuple[int, int]:
    return hit.start, -hit.end

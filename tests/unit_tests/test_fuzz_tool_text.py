"""Property tests for reading model text: the tool-call parser and what it is built on.

The lenient JSON reader, the argument check and the prose splitter read whatever a model wrote.
Two kinds of property throughout:

* a valid call is found, however it is written and whatever is around it;
* arbitrary text fails only with the package's own errors (``ValueError`` for the lenient JSON
  reader), and the parser returns only the calls it can stand by.

The wire decoders are ``test_fuzz_wire_decoders.py``'s.
"""

from __future__ import annotations

import contextlib
import json
import keyword
import re
import time
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from langchain_cloudflare_playground.client.tools.lenient_json import (
    find_json_spans,
    loads_lenient,
)
from langchain_cloudflare_playground.client.tools.native_formats import OPENINGS
from langchain_cloudflare_playground.client.tools.native_writers import pythonic_names
from langchain_cloudflare_playground.client.tools.offerings import GENERIC, OFFERINGS
from langchain_cloudflare_playground.client.tools.parser import parse_reply
from langchain_cloudflare_playground.client.tools.prose_splitter import ProseSplitter
from langchain_cloudflare_playground.client.tools.schema_check import check_arguments
from langchain_cloudflare_playground.client.tools.spec import Tool, ToolCall
from tests.strategies import (
    DEEP,
    FUZZ,
    SHORT,
    Nesting,
    deltas,
    json_scalars,
    nested,
    nesting_depths,
    tricky_text,
)

# JSON whose equality survives a round trip (NaN is never equal to itself).
comparable_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False)
    | deltas,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(deltas, inner, max_size=4),
    max_leaves=12,
)
model_text_nestings = st.builds(
    Nesting, nesting_depths, st.sampled_from(["[", "{", '{"a":']), st.booleans()
)


@SHORT
@given(model_text_nestings, st.sampled_from(["auto", "required", "get_weather"]))
def test_deeply_nested_model_text_never_raises(nesting, choice):
    deep = nesting.text
    tools = [Tool("get_weather", parameters={"type": "object", "properties": {}})]
    for text in (deep, f'{{"name": "get_weather", "arguments": {deep}}}', f"Sure: {deep}"):
        reply = parse_reply(text, tools, choice)
        assert all(call.name == "get_weather" for call in reply.calls)
        with contextlib.suppress(ValueError):
            loads_lenient(text)
        splitter = ProseSplitter()
        assert splitter.feed(text) + splitter.held() == text


@pytest.mark.parametrize("opener", ["[", '{"a":'])
def test_model_text_nested_too_deeply_to_read_is_text(opener):
    deep = nested(DEEP, opener)
    tools = [Tool("get_weather", parameters={"type": "object", "properties": {}})]
    call = f'{{"name": "get_weather", "arguments": {deep}}}'
    with pytest.raises(ValueError, match="nested too deeply"):
        loads_lenient(deep)
    assert parse_reply(deep, tools, "auto") == parse_reply(deep, tools, "none")
    reply = parse_reply(call, tools, "auto")
    assert (reply.text, reply.calls) == (call, ())
    assert reply.problem is not None
    assert "nested too deeply" in reply.problem


def test_long_comma_separated_model_text_is_read_in_linear_time():
    # Not JSON (the x), so every comma goes through the repair pass, where quadratic work once
    # took 13 s on this text. The bound is generous: linear work takes well under a second.
    text = "[" + "1,   " * 200_000 + "x]"
    tools = [Tool("get_weather")]
    started = time.perf_counter()
    assert parse_reply(text, tools, "auto").calls == ()
    with pytest.raises(ValueError, match="Expecting value"):
        loads_lenient(text)
    assert time.perf_counter() - started < 5


@pytest.mark.parametrize(
    "opening",
    [
        "<think>",
        "<tool_call>add<arg_key>a",
        "```tool_code\n",
        "[TOOL_CALLS]add{",
        "<|tool_call_begin|>add<|tool_call_argument_begin|>{",
        "to=functions.add<|message|>[",
        "\n[add(a=1",
        '<|tool_call>call:add{a:<|"|>',
        "call:add{a:[",
    ],
)
def test_thousands_of_unclosed_native_openings_are_read_quickly(opening):
    # Each unclosed opening may be scanned to the end of the text; read without a bound, these
    # took over a minute. None of them is a call; the text comes back whole.
    text = opening * 5000
    started = time.perf_counter()
    reply = parse_reply(text, [Tool("add")], "auto")
    assert reply.calls == ()
    assert reply.text == text
    assert time.perf_counter() - started < 5


# --- Model text: the tool-call parser and what it is built on ----------------------------------

tool_names = st.from_regex(r"[a-z][a-z0-9_]{0,11}", fullmatch=True)
# Each simple argument schema with the values that fit it.
ARGUMENT_KINDS: dict[str, tuple[dict[str, Any], st.SearchStrategy[Any]]] = {
    "string": ({"type": "string"}, deltas),
    "integer": ({"type": "integer"}, st.integers(-(10**12), 10**12)),
    "number": (
        {"type": "number"},
        st.floats(allow_nan=False, allow_infinity=False) | st.integers(-(10**6), 10**6),
    ),
    "boolean": ({"type": "boolean"}, st.booleans()),
    "enum": (
        {"type": "string", "enum": ["celsius", "fahrenheit"]},
        st.sampled_from(["celsius", "fahrenheit"]),
    ),
    "array": (
        {"type": "array", "items": {"type": "integer"}},
        st.lists(st.integers(-99, 99), max_size=4),
    ),
    "nullable": ({"type": ["string", "null"]}, st.none() | deltas),
    "bounded": ({"type": "integer", "minimum": 1, "maximum": 10}, st.integers(1, 10)),
    # Numbers written as text, which the check reads as numbers.
    "integer-text": ({"type": "integer"}, st.integers(-(10**30), 10**30).map(str)),
    "number-text": ({"type": "number"}, st.floats(allow_nan=False, allow_infinity=False).map(repr)),
}


@st.composite
def tools_with_kinds(draw: st.DrawFn) -> list[tuple[Tool, dict[str, str]]]:
    """Tools with simple schemas, each with the kind of each of its arguments."""
    names = draw(st.lists(tool_names, min_size=1, max_size=4, unique=True))
    tools = []
    for name in names:
        kinds = draw(
            st.dictionaries(
                st.from_regex(r"[a-z][a-z_]{0,8}", fullmatch=True),
                st.sampled_from(sorted(ARGUMENT_KINDS)),
                max_size=4,
            )
        )
        required = draw(st.lists(st.sampled_from(sorted(kinds)), unique=True)) if kinds else []
        parameters: dict[str, Any] = {
            "type": "object",
            "properties": {arg: ARGUMENT_KINDS[kind][0] for arg, kind in kinds.items()},
            "required": required,
        }
        if draw(st.booleans()):
            parameters["additionalProperties"] = False
        tools.append((Tool(name, f"The {name} tool.", parameters), kinds))
    return tools


@st.composite
def arguments_for(draw: st.DrawFn, tool: Tool, kinds: dict[str, str]) -> dict[str, Any]:
    required = set(tool.parameters["required"])
    return {
        arg: draw(ARGUMENT_KINDS[kind][1])
        for arg, kind in kinds.items()
        if arg in required or draw(st.booleans())
    }


def single_quoted(value: object) -> str:
    """``value`` written the way Python prints it: single quotes, True/False/None."""
    if isinstance(value, str):
        escapes = {"\\": "\\\\", "'": "\\'"}
        body = "".join(
            escapes.get(char) or (json.dumps(char)[1:-1] if char < " " else char) for char in value
        )
        return f"'{body}'"
    if isinstance(value, dict):
        items = ", ".join(f"{single_quoted(k)}: {single_quoted(v)}" for k, v in value.items())
        return "{" + items + "}"
    if isinstance(value, list):
        return "[" + ", ".join(single_quoted(item) for item in value) + "]"
    if value is None or isinstance(value, bool):
        return str(value)
    return json.dumps(value)


@st.composite
def written_calls(draw: st.DrawFn, calls: list[tuple[str, object]]) -> str:
    """``calls`` written in one of the shapes models use, with prose, fences or tags around them."""
    name_key = draw(st.sampled_from(["name", "tool", "tool_name"]))
    argument_key = draw(st.sampled_from(["arguments", "parameters", "args", "input"]))

    def one(name: str, arguments: object) -> object:
        if draw(st.booleans()):
            return {"function": {"name": name, "arguments": json.dumps(arguments)}}
        return {name_key: name, argument_key: arguments}

    objects = [one(name, arguments) for name, arguments in calls]
    envelope = draw(st.sampled_from(["tool_calls", "list", "separate"]))
    if envelope == "tool_calls":
        values: list[object] = [{"tool_calls": objects}]
    elif envelope == "list":
        values = [objects]
    else:
        values = objects

    def write(value: object) -> str:
        style = draw(st.sampled_from(["json", "indented", "python", "trailing-comma"]))
        if style == "python":
            return single_quoted(value)
        indent = 2 if style == "indented" else None
        text = json.dumps(value, ensure_ascii=draw(st.booleans()), indent=indent)
        return text[:-1] + ",\n" + text[-1] if style == "trailing-comma" else text

    prose = st.text(
        st.characters(blacklist_categories=("Cs",), blacklist_characters="{["), max_size=30
    )
    out = [draw(prose)]
    for value in values:
        wrapper = draw(st.sampled_from(["bare", "fence", "tag"]))
        written = write(value)
        if wrapper == "fence":
            written = f"```{draw(st.sampled_from(['', 'json', 'tool_code']))}\n{written}\n```"
        elif wrapper == "tag":
            written = f"<tool_call>\n{written}\n</tool_call>"
        out += [written, draw(prose)]
    return "".join(out)


@FUZZ
@given(data=st.data(), tools=tools_with_kinds())
def test_a_valid_call_is_found_whatever_is_around_it(data, tools):
    picked = data.draw(st.lists(st.sampled_from(tools), min_size=1, max_size=3))
    calls = [(tool.name, data.draw(arguments_for(tool, kinds))) for tool, kinds in picked]
    text = data.draw(written_calls(calls))
    choice = data.draw(st.sampled_from(["auto", "required", *(name for name, _ in calls)]))

    reply = parse_reply(text, [tool for tool, _ in tools], choice)

    by_name = {tool.name: tool for tool, _ in tools}
    expected = [
        (name, check_arguments(by_name[name].parameters, arguments)) for name, arguments in calls
    ]
    assert all(not problems for _, (_, problems) in expected)
    assert reply.problem is None, (text, reply.problem)
    assert [(call.name, call.arguments) for call in reply.calls] == [
        (name, arguments) for name, (arguments, _) in expected
    ]
    assert "{" not in reply.text
    assert "[" not in reply.text


# The tools offered while arbitrary text is read, between them every kind of schema keyword.
OFFERED_TOOLS = [
    Tool(
        "get_weather",
        parameters={
            "type": "object",
            "properties": {
                "city": {"type": "string", "minLength": 1},
                "unit": {"enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    ),
    Tool(
        "search",
        parameters={
            "type": "object",
            "properties": {
                "query": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50},
                "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 3},
                "since": {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
            },
        },
    ),
    Tool(
        "calc",
        parameters={
            "type": "object",
            "properties": {
                "x": {"type": "number"},
                "n": {"type": ["integer", "null"]},
                "exact": {"type": "boolean"},
                "point": {"$ref": "#/$defs/point"},
            },
            "additionalProperties": False,
            "$defs": {
                "point": {
                    "type": "object",
                    "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                    "required": ["x", "y"],
                }
            },
        },
    ),
]
tool_sets = st.lists(st.sampled_from(OFFERED_TOOLS), min_size=1, unique_by=lambda tool: tool.name)

# Text a model might write: prose, call-shaped JSON (right, wrong and broken), fences and tags.
KEYS = ["name", "tool", "tool_name", "arguments", "parameters", "args", "input", "function"]
KEYS += ["tool_calls", "id", "type"]
ARGUMENT_NAMES = sorted(
    {name for tool in OFFERED_TOOLS for name in tool.parameters["properties"]} | {"y", "other"}
)
# Values on the edge of a type: numbers as text, too long or too big to be numbers.
EDGE_VALUES = ["3", " 7 ", "-0", "1.5", "1e400", "-1e999", "1" * 5000, "true", "False", "NaN"]
EDGE_VALUES += ["Infinity", "0x10", "١٢", "", "celsius"]
numbers_as_text = st.from_regex(
    r"\s?-?\d{1,3}(\.\d{1,3})?([eE][-+]?\d{1,4})?\s?", fullmatch=True
) | st.integers(4000, 5000).map(lambda digits: "9" * digits)
numbers = (
    st.integers()
    | st.floats()
    | st.integers(0, 500).map(lambda exponent: 10**exponent)  # past a float's range too
    | numbers_as_text
)
edge_values = st.sampled_from(EDGE_VALUES) | numbers
argument_values = st.recursive(
    json_scalars | edge_values,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(ARGUMENT_NAMES), inner, max_size=3)
    ),
    max_leaves=6,
)
argument_objects = st.dictionaries(st.sampled_from(ARGUMENT_NAMES), argument_values, max_size=4)
call_shaped = st.recursive(
    json_scalars | edge_values | st.sampled_from([tool.name for tool in OFFERED_TOOLS]),
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(KEYS) | deltas, inner, max_size=4)
    ),
    max_leaves=10,
)
# Calls to the offered tools (or to none of them), with arguments that may or may not fit.
calls_to_offered_tools = st.fixed_dictionaries(
    {
        "name": st.sampled_from([tool.name for tool in OFFERED_TOOLS] + ["rm_rf"]),
        "arguments": argument_objects | argument_values,
    }
)


# The pieces every native format is made of (native_formats.py), for text that mixes them up.
DS_TOKENS = [
    f"<\uff5c{words}\uff5c>"
    for words in (
        "tool\u2581calls\u2581begin",
        "tool\u2581call\u2581begin",
        "tool\u2581sep",
        "tool\u2581call\u2581end",
        "tool\u2581calls\u2581end",
    )
]
NATIVE_PIECES = [
    *OPENINGS,
    *DS_TOKENS,
    "[ARGS]",
    "[CALL_ID]",
    "<|python_end|>",
    "```tool_code\n",
    "<|tool_call_argument_begin|>",
    "<|tool_call_end|>",
    "<|tool_calls_section_end|>",
    "functions.get_weather:0",
    "<|channel|>commentary to=functions.calc <|constrain|>json<|message|>",
    "<|channel|>analysis<|message|>",
    "<|message|>",
    "<|call|>",
    "<|end|>",
    "<arg_key>",
    "</arg_key>",
    "<arg_value>",
    "</arg_value>",
    "<function=search>",
    "<parameter=query>",
    "</parameter>",
    "</function>",
    "<think>",
    "</think>",
    "<|channel>thought\n",
    "<channel|>",
    "call:calc{",
    "call:search{query:",
    '<|"|>',
    "<tool_call|>",
    "<|tool_response>",
    "x:1.5,n:null}",
    "\n[get_weather(city=",
    "search(query=",
    "calc(x=1.5, n=None)",
    ")]\n",
    "functools",
]


def mangled(text: str, cut: int) -> str:
    return text[: cut % (len(text) + 1)]


model_text = st.lists(
    st.text(max_size=20)
    | tricky_text
    | st.sampled_from(["```json\n", "```", "<tool_call>", "</tool_call>", "True", ",}", ",]", "'"])
    | st.sampled_from(NATIVE_PIECES)
    | call_shaped.map(json.dumps)
    | call_shaped.map(single_quoted)
    | calls_to_offered_tools.map(json.dumps)
    | st.lists(calls_to_offered_tools, max_size=3).map(
        lambda calls: json.dumps({"tool_calls": calls})
    )
    | st.tuples(call_shaped.map(json.dumps), st.integers(0, 200)).map(lambda pair: mangled(*pair)),
    max_size=6,
).map("".join)


choices = st.sampled_from(["auto", "required", "none", *(tool.name for tool in OFFERED_TOOLS)])


def assert_reply_is_sound(text: str, tools: list[Tool], choice: str) -> None:
    """``parse_reply`` returns, and only calls it can stand by: offered tools, checked arguments."""
    if choice not in ("auto", "required", "none") and choice not in {tool.name for tool in tools}:
        choice = "auto"  # normalize_tool_choice refuses a name that is not offered
    reply = parse_reply(text, tools, choice)

    by_name = {tool.name: tool for tool in tools}
    for call in reply.calls:
        assert call.name in by_name
        assert check_arguments(by_name[call.name].parameters, call.arguments) == (
            call.arguments,
            [],
        )
    if not reply.calls:
        assert reply.text == text
    else:
        assert reply.problem is None
        if choice not in ("auto", "required"):
            assert any(call.name == choice for call in reply.calls)
    if choice == "none":
        assert (reply.text, reply.calls, reply.problem) == (text, (), None)
    elif choice != "auto" and reply.problem is None:
        assert reply.calls


@FUZZ
@given(model_text, tool_sets, choices)
def test_parse_reply_on_arbitrary_text_returns_only_calls_it_can_stand_by(text, tools, choice):
    assert_reply_is_sound(text, tools, choice)


def plausible(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """Values a model might give for ``schema``: mostly fitting, often on the edge of its type."""
    if "$ref" in schema:  # the point
        return st.fixed_dictionaries({"x": plausible_number, "y": plausible_number})
    if "enum" in schema:
        return mostly(st.sampled_from(schema["enum"]), edge_values)
    if "anyOf" in schema:
        return st.one_of([plausible(option) for option in schema["anyOf"]])
    kinds = {
        "number": plausible_number,
        "integer": mostly(st.integers(1, 49) | st.integers(1, 49).map(lambda n: f" {n}"), numbers),
        "string": mostly(st.text(min_size=1, max_size=8), numbers_as_text),
        "boolean": mostly(st.booleans(), st.sampled_from(["true", "False", " TRUE ", "yes"])),
        "null": st.none(),
        "array": st.lists(deltas, max_size=3),
    }
    types = schema["type"]
    return st.one_of([kinds[kind] for kind in ([types] if isinstance(types, str) else types)])


def mostly(fitting: st.SearchStrategy[Any], edgy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``fitting`` three times in four, else ``edgy``."""
    return st.integers(0, 3).flatmap(lambda pick: edgy if pick == 0 else fitting)


plausible_number = mostly(st.floats(allow_nan=False, allow_infinity=False), numbers)


@st.composite
def plausible_calls(draw: st.DrawFn, tools: list[Tool]) -> list[tuple[str, object]]:
    """Calls to ``tools`` with arguments close to their schemas, now and then to another tool."""
    calls: list[tuple[str, object]] = []
    for tool in draw(st.lists(st.sampled_from(tools), min_size=1, max_size=3)):
        required = set(tool.parameters.get("required", ()))
        arguments = {
            name: draw(plausible(schema))
            for name, schema in tool.parameters["properties"].items()
            if name in required or draw(st.booleans())
        }
        calls.append((tool.name, arguments))
    if draw(st.integers(0, 9)) == 7:  # not 0: Hypothesis draws the bounds far more often
        calls.append(("rm_rf", draw(argument_objects)))
    return calls


@settings(FUZZ, max_examples=200)
@given(st.data(), tool_sets, choices)
def test_parse_reply_on_calls_with_edgy_arguments_returns_only_sound_calls(data, tools, choice):
    text = data.draw(written_calls(data.draw(plausible_calls(tools))))
    assert_reply_is_sound(text, tools, choice)


# One schema of each kind the checker reads, each tried with its own value in every example.
CHECKED_SCHEMAS: list[dict[str, Any]] = [
    {"type": "number"},
    {"type": "integer"},
    {"type": "integer", "minimum": 1, "exclusiveMaximum": 50},
    {"type": ["integer", "null"]},
    {"type": ["string", "number"]},
    {"type": "boolean"},
    {"type": "string", "minLength": 1, "pattern": "^[a-z]"},
    {"enum": ["celsius", "fahrenheit", 3]},
    {"const": 3},
    {"anyOf": [{"type": "integer"}, {"type": "string"}, {"type": "null"}]},
    {"oneOf": [{"type": "number", "maximum": 0}, {"type": "boolean"}]},
    {"allOf": [{"type": "number"}, {"minimum": 0}]},
    {"type": "array", "items": {"type": "number"}, "maxItems": 3},
    {"$ref": "#/$defs/point"},
    {"type": "object", "additionalProperties": {"type": "integer"}},
]
POINT = {
    "type": "object",
    "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
    "required": ["x", "y"],
}


@FUZZ
@given(st.lists(edge_values | argument_values, min_size=15, max_size=15))
def test_arguments_that_pass_the_check_pass_it_again_unchanged(values):
    for schema, value in zip(CHECKED_SCHEMAS, values, strict=True):
        parameters = {"type": "object", "properties": {"v": schema}, "$defs": {"point": POINT}}
        checked, problems = check_arguments(parameters, {"v": value})
        if not problems:
            assert check_arguments(parameters, checked) == (checked, []), schema


@FUZZ
@given(st.text(max_size=40) | model_text)
def test_json_spans_are_in_bounds_and_in_order(text):
    position = 0
    spans = find_json_spans(text)
    for index, span in enumerate(spans):
        assert position <= span.start < span.end <= len(text)
        assert text[span.start] in "{["
        if span.closed:
            assert text[span.end - 1] in "}]"
        else:
            assert index == len(spans) - 1
            assert span.end == len(text)
        position = span.end


@FUZZ
@given(st.text(max_size=40) | model_text)
def test_loads_lenient_raises_only_value_error(text):
    # ValueError only, also for JSON nested too deeply (the parser reports it to the model).
    with contextlib.suppress(ValueError):
        loads_lenient(text)


@FUZZ
@given(comparable_json, st.sampled_from(["json", "ascii", "python", "trailing-comma"]))
def test_loads_lenient_reads_json_and_its_unambiguous_repairs_exactly(value, style):
    if style == "python":
        text = single_quoted(value)
    elif style == "trailing-comma":
        text = "[" + json.dumps(value, ensure_ascii=True) + ",]"  # \ud83d\udc4b escapes
        value = [value]
    else:
        text = json.dumps(value, ensure_ascii=style == "ascii")
    # Compared as values, not as JSON text: json.dumps writes a lone surrogate pair and the
    # character it stands for alike.
    assert loads_lenient(text) == value


def shows_no_call_opening(shown: str) -> bool:
    """Whether ``shown`` has none of the text a call may start with, in any format."""
    literal = ("```", "<tool_call", *OPENINGS)
    return re.search(r"\{|\[\s*\{|\[\s*[A-Za-z_]\w*\(", shown) is None and not any(
        opening in shown for opening in literal
    )


# Pieces of openings, which a stream may cut anywhere.
OPENING_PIECES = ["`", "``", "<tool", "_ca", "[ ", "{", "[TOOL", "_CALLS]", "<|", "|>", "<\uff5c"]
OPENING_PIECES += ["to=func", "tions.", "functools", "[add", "(a=1)]", "python_", "tag|>"]
OPENING_PIECES += ["c", "cal", "l:", "call:ad", "d{", "recall:x{"]


@FUZZ
@given(
    st.lists(
        tricky_text
        | st.text(max_size=6)
        | st.sampled_from(OPENING_PIECES)
        | st.sampled_from(NATIVE_PIECES)
    ),
    st.booleans(),
)
def test_prose_splitter_shows_plus_holds_exactly_the_text_and_shows_no_call_opening(pieces, hold):
    splitter = ProseSplitter(hold_everything=hold)
    shown = "".join(splitter.feed(piece) for piece in pieces)
    text = "".join(pieces)
    assert shown + splitter.held() == text
    assert shows_no_call_opening(shown), shown
    if hold:
        assert shown == ""
    else:
        # However the text was cut into deltas, the same prose is shown.
        whole = ProseSplitter()
        assert whole.feed(text) == shown


# --- Each family's native format: found however it is cut into deltas -------------------------

PYTHONIC_SAFE = re.compile(r"[A-Za-z_]\w*")


def is_identifier(name: str) -> bool:
    return PYTHONIC_SAFE.fullmatch(name) is not None and not keyword.iskeyword(name)


@st.composite
def native_written_calls(
    draw: st.DrawFn, calls: list[tuple[str, dict[str, Any]]], tools: dict[str, Tool]
) -> tuple[str, str]:
    """``calls`` written in one family's native format, with prose before: (text, that prose)."""
    formats = ["mistral", "mistral-args", "granite", "python-tag", "deepseek", "deepseek-v31"]
    formats += ["kimi", "harmony", "glm", "qwen3-coder", "phi4", "gemma4"]
    if all(
        is_identifier(name) and all(is_identifier(arg) for arg in arguments)
        for name, arguments in calls
    ):
        formats += ["llama4", "gemma"]
    native = draw(st.sampled_from(formats))

    def args_json(arguments: dict[str, Any]) -> str:
        style = draw(st.sampled_from(["json", "python"]))
        return single_quoted(arguments) if style == "python" else json.dumps(arguments)

    def listed() -> str:
        return json.dumps([{"name": name, "arguments": arguments} for name, arguments in calls])

    def tagged(name: str, key: str, value: Any) -> str:
        schema = tools[name].parameters["properties"][key]
        return value if schema.get("type") == "string" else json.dumps(value)

    ds = {
        words: f"<\uff5c{words.replace(' ', chr(0x2581))}\uff5c>"
        for words in (
            "tool calls begin",
            "tool calls end",
            "tool call begin",
            "tool call end",
            "tool sep",
        )
    }
    if native == "mistral":
        written = f"[TOOL_CALLS]{listed()}</s>"
    elif native == "mistral-args":
        args_token = draw(st.sampled_from(["[ARGS]", ""]))  # "" where special tokens are dropped
        written = "".join(f"[TOOL_CALLS]{n}{args_token}{args_json(a)}" for n, a in calls)
    elif native == "granite":
        written = f"<|tool_call|>{listed()}"
    elif native == "phi4":
        written = f"functools{listed()}"
    elif native == "python-tag":
        name, arguments = calls[0]
        calls[1:] = []
        written = (
            f'<|python_tag|>{{"name": {json.dumps(name)}, "parameters": {args_json(arguments)}}}'
        )
        written += "<|eom_id|>"
    elif native == "deepseek":
        body = "\n".join(
            f"{ds['tool call begin']}function{ds['tool sep']}{n}\n```json\n{args_json(a)}\n```"
            f"{ds['tool call end']}"
            for n, a in calls
        )
        written = f"{ds['tool calls begin']}{body}{ds['tool calls end']}"
    elif native == "deepseek-v31":
        body = "".join(
            f"{ds['tool call begin']}{n}{ds['tool sep']}{args_json(a)}{ds['tool call end']}"
            for n, a in calls
        )
        written = f"{ds['tool calls begin']}{body}{ds['tool calls end']}"
    elif native == "kimi":
        body = "".join(
            f"<|tool_call_begin|>functions.{n}:{i}<|tool_call_argument_begin|>{args_json(a)}"
            "<|tool_call_end|>"
            for i, (n, a) in enumerate(calls)
        )
        written = f"<|tool_calls_section_begin|>{body}<|tool_calls_section_end|>"
    elif native == "harmony":
        written = "".join(
            f"<|start|>assistant<|channel|>commentary to=functions.{n} <|constrain|>json"
            f"<|message|>{args_json(a)}<|call|>"
            for n, a in calls
        )
    elif native == "glm":
        written = "".join(
            f"<tool_call>{n}\n"
            + "".join(
                f"<arg_key>{k}</arg_key>\n<arg_value>{tagged(n, k, v)}</arg_value>\n"
                for k, v in a.items()
            )
            + "</tool_call>\n"
            for n, a in calls
        )
    elif native == "gemma4":

        def gemma(value: Any) -> str:  # Gemma 4's syntax: strings in <|"|>, keys bare
            if isinstance(value, str):
                return f'<|"|>{value}<|"|>'
            if isinstance(value, dict):
                return "{" + ",".join(f"{k}:{gemma(v)}" for k, v in value.items()) + "}"
            if isinstance(value, list):
                return "[" + ",".join(gemma(item) for item in value) + "]"
            return json.dumps(value)

        written = "".join(f"<|tool_call>call:{n}{gemma(a)}<tool_call|>" for n, a in calls)
        written += draw(st.sampled_from(["", "<|tool_response>"]))
    elif native == "qwen3-coder":
        written = "".join(
            f"<tool_call>\n<function={n}>\n"
            + "".join(f"<parameter={k}>\n{tagged(n, k, v)}\n</parameter>\n" for k, v in a.items())
            + "</function>\n</tool_call>\n"
            for n, a in calls
        )
    else:
        pythonic = [
            f"{n}({', '.join(f'{k}={single_quoted(v)}' for k, v in a.items())})" for n, a in calls
        ]
        if native == "llama4":
            written = f"<|python_start|>[{', '.join(pythonic)}]<|python_end|><|eot|>"
        else:
            written = "```tool_code\n" + "\n".join(pythonic) + "\n```"
    prose = draw(
        st.sampled_from(["", "Let me check.\n", "I'll call the tool. ", "<think>x</think>"])
    )
    return prose + written, prose


native_strings = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="<`\r"), max_size=12
)


@st.composite
def native_arguments_for(draw: st.DrawFn, tool: Tool, kinds: dict[str, str]) -> dict[str, Any]:
    # Strings without "<" or a backtick: the tag and fence formats cannot carry those raw.
    arguments = draw(arguments_for(tool, kinds))
    for arg, kind in kinds.items():
        if arg in arguments and kind in ("string", "nullable") and isinstance(arguments[arg], str):
            arguments[arg] = draw(native_strings)
    return arguments


def expected_calls(
    tools: dict[str, Tool], calls: list[tuple[str, dict[str, Any]]]
) -> list[tuple[str, dict[str, Any]]]:
    checked = [
        (name, check_arguments(tools[name].parameters, arguments)) for name, arguments in calls
    ]
    assert all(not problems for _, (_, problems) in checked)
    return [(name, arguments) for name, (arguments, _) in checked]


@FUZZ
@given(data=st.data(), tools=tools_with_kinds())
def test_a_valid_call_in_a_native_format_is_found(data, tools):
    picked = data.draw(st.lists(st.sampled_from(tools), min_size=1, max_size=3))
    calls = [(tool.name, data.draw(native_arguments_for(tool, kinds))) for tool, kinds in picked]
    by_name = {tool.name: tool for tool, _ in tools}
    text, prose = data.draw(native_written_calls(calls, by_name))

    reply = parse_reply(text, list(by_name.values()), "auto")

    assert reply.problem is None, (text, reply.problem)
    assert [(c.name, c.arguments) for c in reply.calls] == expected_calls(by_name, calls), text
    assert reply.text == prose.strip()


@FUZZ
@given(data=st.data(), tools=tools_with_kinds())
def test_any_split_of_a_streamed_native_call_reads_the_same(data, tools):
    picked = data.draw(st.lists(st.sampled_from(tools), min_size=1, max_size=2))
    calls = [(tool.name, data.draw(native_arguments_for(tool, kinds))) for tool, kinds in picked]
    by_name = {tool.name: tool for tool, _ in tools}
    text, prose = data.draw(native_written_calls(calls, by_name))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=8)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]

    splitter = ProseSplitter()
    shown = "".join(splitter.feed(piece) for piece in pieces)

    # No part of the call is shown, and what is held reads as the same calls.
    assert prose.startswith(shown), (shown, pieces)
    assert shown + splitter.held() == text
    whole = parse_reply(text, list(by_name.values()), "auto")
    held = parse_reply(splitter.held(), list(by_name.values()), "auto")
    assert [(c.name, c.arguments) for c in held.calls] == [
        (c.name, c.arguments) for c in whole.calls
    ]
    assert whole.calls


# -- each family's calls, as the client writes them back into the history ------------------


@FUZZ
@given(
    data=st.data(),
    tools=tools_with_kinds(),
    offering=st.sampled_from([GENERIC, *OFFERINGS]),
)
def test_every_familys_written_calls_read_back_the_same_at_any_split(data, tools, offering):
    """What a family's writer writes, the parser reads as the same calls, whole or streamed.

    Streamed: cut into pieces at any points and fed to the prose splitter as a model's deltas
    arrive; no piece of the calls is shown as prose, and what is held reads the same.
    """
    picked = data.draw(st.lists(st.sampled_from(tools), min_size=1, max_size=3))
    calls = [
        ToolCall(f"c{i}", tool.name, data.draw(arguments_for(tool, kinds)))
        for i, (tool, kinds) in enumerate(picked)
    ]
    if offering.name.startswith("glm"):
        # GLM writes a value right inside its tags, and the reader takes one newline on each
        # side as the line breaks Qwen3-Coder's template puts there: a string that starts or
        # ends with a newline cannot be told apart in these formats.
        assume(not any(_edge_newline(value) for call in calls for value in call.arguments.values()))
    if offering.python_names_only:
        # Such names get the generic offer (test_tool_offerings); the pythonic writer never
        # sees them.
        assume(pythonic_names([tool for tool, _ in tools], calls))
    text = offering.write_calls("", calls)
    offered = [tool for tool, _ in tools]
    by_name = {tool.name: tool for tool in offered}
    # As the argument check gives them back (numbers written as text are read as numbers).
    expected = [
        (call.name, check_arguments(by_name[call.name].parameters, call.arguments)[0])
        for call in calls
    ]

    whole = parse_reply(text, offered, "required")
    assert whole.problem is None, (text, whole.problem)
    assert [(c.name, dict(c.arguments)) for c in whole.calls] == expected

    cuts = sorted(data.draw(st.lists(st.integers(0, len(text)), max_size=6)))
    pieces = [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]
    splitter = ProseSplitter()
    shown = "".join(splitter.feed(piece) for piece in pieces if piece)
    assert shown == "", (text, shown)
    streamed = parse_reply(splitter.held(), offered, "auto")
    assert [(c.name, dict(c.arguments)) for c in streamed.calls] == expected


def _edge_newline(value: object) -> bool:
    return isinstance(value, str) and (value.startswith("\n") or value.endswith("\n"))

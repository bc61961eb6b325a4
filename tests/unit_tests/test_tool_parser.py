"""The reply parser against a corpus of what models really write when asked for tool calls.

Each case is a reply and what the parser must make of it: the calls (names and checked
arguments), the text left over, or the problem the model is asked to fix. Replies that hold no
call must come back as their whole text, unchanged: a call is never invented.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from langchain_cloudflare_playground.client.tools import Tool, parse_reply

WEATHER = Tool(
    "get_weather",
    "Get the weather at a location.",
    {
        "type": "object",
        "properties": {
            "location": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
        },
        "required": ["location"],
    },
)
ADD = Tool(
    "add",
    "Add two integers.",
    {
        "type": "object",
        "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
        "required": ["a", "b"],
    },
)
NO_ARGS = Tool("magic_function_no_args", "Calculate a magic function.")
LOOKUP = Tool(
    "lookup",
    "Search the notes.",
    {
        "type": "object",
        "$defs": {"Filter": {"type": "object", "properties": {"tag": {"type": "string"}}}},
        "properties": {
            "query": {"type": "string", "minLength": 1},
            "limit": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
            "filter": {"$ref": "#/$defs/Filter"},
        },
        "required": ["query"],
        "additionalProperties": False,
    },
)
TOOLS = (WEATHER, ADD, NO_ARGS, LOOKUP)


@dataclass(frozen=True)
class Case:
    reply: str
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    text: str | None = None  # the text left over; None: the whole reply
    problem: str | None = None  # a fragment of the problem; None: no problem
    choice: str = "auto"


PARIS = ("get_weather", {"location": "Paris"})
CORPUS: dict[str, Case] = {
    # -- the format we ask for, and the shapes models use instead ------------------------
    "asked format": Case(
        '{"tool_calls": [{"name": "get_weather", "arguments": {"location": "Paris"}}]}', [PARIS], ""
    ),
    "bare call": Case('{"name": "get_weather", "arguments": {"location": "Paris"}}', [PARIS], ""),
    "parameters key (Llama)": Case(
        '{"name": "get_weather", "parameters": {"location": "Paris"}}', [PARIS], ""
    ),
    "args key": Case('{"name": "add", "args": {"a": 1, "b": 2}}', [("add", {"a": 1, "b": 2})], ""),
    "OpenAI function shape, arguments as text": Case(
        '{"type": "function", "function": {"name": "add",'
        ' "arguments": "{\\"a\\": 1, \\"b\\": 2}"}}',
        [("add", {"a": 1, "b": 2})],
        "",
    ),
    "list of calls": Case(
        '[{"name": "add", "arguments": {"a": 1, "b": 2}}, {"name": "get_weather",'
        ' "arguments": {"location": "Paris"}}]',
        [("add", {"a": 1, "b": 2}), PARIS],
        "",
    ),
    "Hermes tags": Case(
        '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call>',
        [PARIS],
        "",
    ),
    "no-argument tool by name alone": Case(
        '{"name": "magic_function_no_args"}', [("magic_function_no_args", {})], ""
    ),
    "no-argument tool with null arguments": Case(
        '{"name": "magic_function_no_args", "arguments": null}',
        [("magic_function_no_args", {})],
        "",
    ),
    # -- fences and prose ------------------------------------------------------------------
    "json fence": Case(
        '```json\n{"tool_calls": [{"name": "get_weather",'
        ' "arguments": {"location": "Paris"}}]}\n```',
        [PARIS],
        "",
    ),
    "bare fence": Case(
        '```\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n```', [PARIS], ""
    ),
    "prose before": Case(
        'Let me check.\n{"name": "get_weather", "arguments": {"location": "Paris"}}',
        [PARIS],
        "Let me check.",
    ),
    "prose after": Case(
        '{"name": "get_weather", "arguments": {"location": "Paris"}}\nI will report back.',
        [PARIS],
        "I will report back.",
    ),
    "prose around a fence": Case(
        'Sure thing.\n```json\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n```\nDone.',
        [("add", {"a": 2, "b": 3})],
        "Sure thing.\n\nDone.",
    ),
    "several fenced calls": Case(
        '```json\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n```\n'
        '```json\n{"name": "add", "arguments": {"a": 3, "b": 4}}\n```',
        [("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})],
        "",
    ),
    "several objects on lines": Case(
        '{"name": "add", "arguments": {"a": 1, "b": 2}}\n'
        '{"name": "get_weather", "arguments": {"location": "Paris"}}',
        [("add", {"a": 1, "b": 2}), PARIS],
        "",
    ),
    "braces inside argument strings": Case(
        '{"name": "lookup", "arguments": {"query": "set {a, b} and [c]"}}',
        [("lookup", {"query": "set {a, b} and [c]"})],
        "",
    ),
    "unicode arguments": Case(
        '{"name": "lookup", "arguments": {"query": "你好啊集团"}}',
        [("lookup", {"query": "你好啊集团"})],
        "",
    ),
    # -- loose JSON with one reading ---------------------------------------------------------
    "single quotes": Case(
        "{'name': 'get_weather', 'arguments': {'location': 'Paris'}}", [PARIS], ""
    ),
    "trailing commas": Case(
        '{"name": "add", "arguments": {"a": 1, "b": 2,},}', [("add", {"a": 1, "b": 2})], ""
    ),
    "Python literals": Case(
        "{'name': 'lookup', 'arguments': {'query': 'x', 'limit': None}}",
        [("lookup", {"query": "x", "limit": None})],
        "",
    ),
    "apostrophe inside double quotes": Case(
        '{"name": "lookup", "arguments": {"query": "what\'s new",}}',
        [("lookup", {"query": "what's new"})],
        "",
    ),
    # -- arguments: coerced when there is one reading, refused otherwise ---------------------
    "numeric strings for integers": Case(
        '{"name": "add", "arguments": {"a": "1", "b": 2.0}}', [("add", {"a": 1, "b": 2})], ""
    ),
    "wrong argument type": Case(
        '{"name": "add", "arguments": {"a": "one", "b": 2}}',
        problem='arguments of "add" do not fit its schema: arguments.a: expected integer',
    ),
    "missing required argument": Case(
        '{"name": "add", "arguments": {"a": 1}}', problem="arguments: missing required 'b'"
    ),
    "value outside enum": Case(
        '{"name": "get_weather", "arguments": {"location": "Paris", "unit": "kelvin"}}',
        problem="'kelvin' is not one of 'celsius', 'fahrenheit'",
    ),
    "unexpected argument": Case(
        '{"name": "lookup", "arguments": {"query": "x", "page": 2}}',
        problem="unexpected argument 'page'",
    ),
    "anyOf bound": Case(
        '{"name": "lookup", "arguments": {"query": "x", "limit": 0}}',
        problem="arguments.limit: matches none of its allowed forms",
    ),
    "nested $ref checked": Case(
        '{"name": "lookup", "arguments": {"query": "x", "filter": {"tag": 5}}}',
        problem="arguments.filter.tag: expected string",
    ),
    "arguments not an object": Case(
        '{"name": "add", "arguments": [1, 2]}', problem="arguments must be a JSON object"
    ),
    # -- unknown tools and broken JSON: asked to fix, never guessed --------------------------
    "unknown tool": Case(
        '{"name": "get_stock_price", "arguments": {"ticker": "NET"}}',
        problem='it calls "get_stock_price", which is not a tool here',
    ),
    "one good and one unknown call": Case(
        '[{"name": "add", "arguments": {"a": 1, "b": 2}}, {"name": "nope", "arguments": {}}]',
        problem='"nope", which is not a tool here',
    ),
    "truncated JSON": Case(
        '{"name": "add", "arguments": {"a": 1, "b": ', problem="its JSON could not be read"
    ),
    "unreadable JSON": Case(
        '{"tool_calls": [{"name": "add", "arguments": {a: 1 b: 2}}]}',
        problem="its JSON could not be read",
    ),
    # -- not calls: the text comes back whole ---------------------------------------------
    "plain prose": Case("The weather in Paris is usually mild in spring."),
    "prose with braces": Case("Sets are written {1, 2, 3} in mathematics; don't worry."),
    "a JSON answer that is not a call": Case('{"city": "Paris", "temperature": 21}'),
    "data with a name key": Case('Here you go: {"name": "Ada Lovelace", "born": 1815}'),
    "markdown link": Case("See [the docs](https://example.com) for more."),
    "empty reply": Case(""),
    # -- tool choice --------------------------------------------------------------------------
    "required but prose": Case(
        "It is sunny.", problem="it calls no tool, but it must call at least one", choice="required"
    ),
    "named tool but another called": Case(
        '{"name": "add", "arguments": {"a": 1, "b": 2}}',
        problem='it must call the tool "get_weather"',
        choice="get_weather",
    ),
    "named tool called": Case(
        '{"name": "get_weather", "arguments": {"location": "Paris"}}',
        [PARIS],
        "",
        choice="get_weather",
    ),
    "choice none leaves calls as text": Case(
        '{"name": "get_weather", "arguments": {"location": "Paris"}}', choice="none"
    ),
}


@pytest.mark.parametrize("name", list(CORPUS))
def test_reply_corpus(name: str) -> None:
    case = CORPUS[name]
    parsed = parse_reply(case.reply, TOOLS, case.choice)

    assert [(call.name, dict(call.arguments)) for call in parsed.calls] == case.calls
    if case.problem is None:
        assert parsed.problem is None
    else:
        assert parsed.problem is not None
        assert case.problem in parsed.problem
    assert parsed.text == (case.reply if case.text is None else case.text)


def test_the_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 30


def test_every_call_gets_a_fresh_id() -> None:
    call = '{"name": "add", "arguments": {"a": 1, "b": 2}}'
    reply = f"[{call}, {call}]"

    first, second = parse_reply(reply, TOOLS, "auto").calls

    assert first.id.startswith("call_")
    assert first.id != second.id


def test_problems_name_what_the_tools_are() -> None:
    parsed = parse_reply('{"name": "nope", "arguments": {}}', TOOLS, "auto")

    assert parsed.problem is not None
    assert '"get_weather", "add", "magic_function_no_args", "lookup"' in parsed.problem

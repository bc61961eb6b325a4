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
from langchain_cloudflare_playground.client.tools.prose_splitter import ProseSplitter
from tests.helpers import ADD

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

# -- each family's native format (facts and sources: docs/tool-formats.md) --------------------
# A family's examples are named "<family>: ..."; near-misses "<family> near-miss: ...".
DS = {
    word: f"<\uff5c{word.replace(' ', '▁')}\uff5c>"
    for word in (
        "tool calls begin",
        "tool calls end",
        "tool call begin",
        "tool call end",
        "tool sep",
        "end of sentence",
    )
}
NATIVE: dict[str, Case] = {
    "Llama 3.1: python_tag and parameters": Case(
        '<|python_tag|>{"name": "get_weather", "parameters": {"location": "Paris"}}<|eom_id|>',
        [PARIS],
        "",
    ),
    "Llama 3.3: JSON with a type key after prose": Case(
        "I'll look up the weather for you.\n\n"
        '{"type": "function", "name": "get_weather", "parameters": {"location": "Paris",'
        ' "unit": "celsius"}}',
        [("get_weather", {"location": "Paris", "unit": "celsius"})],
        "I'll look up the weather for you.",
    ),
    "Llama 3.2: pythonic list": Case(
        '[get_weather(location="Paris", unit="celsius")]',
        [("get_weather", {"location": "Paris", "unit": "celsius"})],
        "",
    ),
    "Llama 3.2: pythonic list after prose, on its own line": Case(
        "Sure, let me add those.\n[add(a=1, b=2), add(a=3, b=4)]",
        [("add", {"a": 1, "b": 2}), ("add", {"a": 3, "b": 4})],
        "Sure, let me add those.",
    ),
    "Llama 4: python_start wrapper": Case(
        "<|python_start|>[add(a=2, b=3), get_weather(location='Paris')]<|python_end|><|eot|>",
        [("add", {"a": 2, "b": 3}), PARIS],
        "",
    ),
    "Llama 4: pythonic with nested literals": Case(
        "[lookup(query='notes', limit=None, filter={'tag': 'work'})]",
        [("lookup", {"query": "notes", "limit": None, "filter": {"tag": "work"}})],
        "",
    ),
    "Llama near-miss: pythonic example inside a sentence": Case(
        "In Python you would write [get_weather(location='Paris')] to call it."
    ),
    "Llama near-miss: list comprehension in a code fence": Case(
        "```python\n[print(x) for x in range(3)]\n```"
    ),
    "Llama near-miss: a call of something that is not a tool": Case("[sorted(key=None)]"),
    "Llama near-miss: positional arguments": Case('[get_weather("Paris")]'),
    "Llama: pythonic arguments checked": Case(
        '[add(a="one", b=2)]', problem='arguments of "add" do not fit its schema'
    ),
    "Qwen (QwQ): Hermes tags after thinking": Case(
        "<think>\nThe user wants the weather in Paris; get_weather does that.\n</think>\n\n"
        '<tool_call>\n{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call>',
        [PARIS],
        "<think>\nThe user wants the weather in Paris; get_weather does that.\n</think>",
    ),
    "Qwen (Qwen3): a call drafted in thinking is not made": Case(
        '<think>\nI could call {"name": "add", "arguments": {"a": 1, "b": 1}}, but they asked'
        " for 2 and 3.\n</think>\n"
        '<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n</tool_call>',
        [("add", {"a": 2, "b": 3})],
        '<think>\nI could call {"name": "add", "arguments": {"a": 1, "b": 1}}, but they asked'
        " for 2 and 3.\n</think>",
    ),
    "Qwen (Qwen3-Coder): function and parameter tags": Case(
        "<tool_call>\n<function=get_weather>\n<parameter=location>\nParis\n</parameter>\n"
        "<parameter=unit>\ncelsius\n</parameter>\n</function>\n</tool_call>",
        [("get_weather", {"location": "Paris", "unit": "celsius"})],
        "",
    ),
    "Qwen (Qwen3-Coder): typed parameters": Case(
        "Adding.\n<tool_call>\n<function=add>\n<parameter=a>\n2\n</parameter>\n"
        "<parameter=b>\n3\n</parameter>\n</function>\n</tool_call>",
        [("add", {"a": 2, "b": 3})],
        "Adding.",
    ),
    "Qwen near-miss: the tags named in prose": Case(
        "Wrap each call in <tool_call></tool_call> tags, like <tool_call>this</tool_call>."
    ),
    "Hermes: two tagged calls, arguments first": Case(
        '<tool_call>\n{"arguments": {"a": 1, "b": 2}, "name": "add"}\n</tool_call>\n'
        '<tool_call>\n{"arguments": {"location": "Paris"}, "name": "get_weather"}\n</tool_call>',
        [("add", {"a": 1, "b": 2}), PARIS],
        "",
    ),
    "Hermes: prose then a tagged call": Case(
        "Let me check the forecast.\n<tool_call>\n"
        '{"name": "get_weather", "arguments": {"location": "Paris"}}\n</tool_call>',
        [PARIS],
        "Let me check the forecast.",
    ),
    "Hermes near-miss: JSON in tags that is not a call": Case(
        '<tool_call>\n{"city": "Paris"}\n</tool_call>'
    ),
    "Mistral: TOOL_CALLS list": Case(
        '[TOOL_CALLS][{"name": "get_weather", "arguments": {"location": "Paris"}}]</s>',
        [PARIS],
        "",
    ),
    "Mistral: TOOL_CALLS list with ids": Case(
        '[TOOL_CALLS] [{"name": "add", "arguments": {"a": 1, "b": 2}, "id": "a1B2c3D4e"}]',
        [("add", {"a": 1, "b": 2})],
        "",
    ),
    "Mistral (Small 3.2): name and ARGS": Case(
        '[TOOL_CALLS]get_weather[ARGS]{"location": "Paris"}', [PARIS], ""
    ),
    "Mistral (Small 3.2): prose then two calls": Case(
        'I\'ll do both.[TOOL_CALLS]add[ARGS]{"a": 2, "b": 3}'
        '[TOOL_CALLS]get_weather[ARGS]{"location": "Paris"}',
        [("add", {"a": 2, "b": 3}), PARIS],
        "I'll do both.",
    ),
    "Mistral (v11 tokenizer, special tokens dropped): name then arguments": Case(
        'Adding.[TOOL_CALLS]add{"a": 3, "b": 4}', [("add", {"a": 3, "b": 4})], "Adding."
    ),
    "Mistral near-miss: the token, a word, then JSON": Case(
        '[TOOL_CALLS] then {"city": "Paris"} in a sentence.'
    ),
    "Gemma: a pythonic list, as Google's guide asks": Case(
        '[get_weather(location="Paris")]', [PARIS], ""
    ),
    "Mistral near-miss: the token in a sentence": Case(
        "Mistral models start their calls with [TOOL_CALLS], then JSON."
    ),
    "Mistral near-miss: JSON after the token that is not a call": Case(
        '[TOOL_CALLS][{"city": "Paris"}]'
    ),
    "Mistral: arguments that never close": Case(
        '[TOOL_CALLS]add[ARGS]{"a": 1, ', problem="do not close"
    ),
    "Gemma: tool_code fence": Case('```tool_code\nget_weather(location="Paris")\n```', [PARIS], ""),
    "Gemma: prose, then a fence of two calls": Case(
        "Let me look that up.\n```tool_code\nadd(a=2, b=3)\n"
        'get_weather(location="Paris", unit="celsius")\n```',
        [("add", {"a": 2, "b": 3}), ("get_weather", {"location": "Paris", "unit": "celsius"})],
        "Let me look that up.",
    ),
    "Gemma near-miss: code that is not a literal call is never run": Case(
        "```tool_code\nprint(open('/etc/passwd').read())\n```"
    ),
    "Gemma near-miss: an argument that is an expression": Case(
        "```tool_code\nget_weather(location=__import__('os').getcwd())\n```"
    ),
    "DeepSeek (R1): calls section": Case(
        f"{DS['tool calls begin']}{DS['tool call begin']}function{DS['tool sep']}get_weather\n"
        f'```json\n{{"location": "Paris"}}\n```{DS["tool call end"]}{DS["tool calls end"]}'
        f"{DS['end of sentence']}",
        [PARIS],
        "",
    ),
    "DeepSeek (R1 distill): thinking, then two calls": Case(
        "<think>\nThe add tool sums; the weather tool needs a city.\n</think>\n\n"
        f"{DS['tool calls begin']}{DS['tool call begin']}function{DS['tool sep']}add\n"
        f'```json\n{{"a": 2, "b": 3}}\n```{DS["tool call end"]}\n'
        f"{DS['tool call begin']}function{DS['tool sep']}get_weather\n"
        f'```json\n{{"location": "Paris"}}\n```{DS["tool call end"]}{DS["tool calls end"]}',
        [("add", {"a": 2, "b": 3}), PARIS],
        "<think>\nThe add tool sums; the weather tool needs a city.\n</think>",
    ),
    "DeepSeek (V3.1): name, separator, arguments": Case(
        f"{DS['tool calls begin']}{DS['tool call begin']}get_weather{DS['tool sep']}"
        f'{{"location": "Paris"}}{DS["tool call end"]}{DS["tool calls end"]}',
        [PARIS],
        "",
    ),
    "DeepSeek near-miss: the token named in prose": Case(
        f"DeepSeek opens its calls with {DS['tool calls begin']} and closes them after."
    ),
    "DeepSeek: arguments that never close": Case(
        f"{DS['tool calls begin']}{DS['tool call begin']}function{DS['tool sep']}add\n"
        '```json\n{"a": 1,\n',
        problem="do not close",
    ),
    "Kimi: calls section after prose": Case(
        "I'll check the weather.<|tool_calls_section_begin|><|tool_call_begin|>"
        'functions.get_weather:0<|tool_call_argument_begin|>{"location": "Paris"}'
        "<|tool_call_end|><|tool_calls_section_end|>",
        [PARIS],
        "I'll check the weather.",
    ),
    "Kimi: two calls": Case(
        "<|tool_calls_section_begin|>"
        '<|tool_call_begin|>functions.add:0<|tool_call_argument_begin|>{"a": 1, "b": 2}'
        "<|tool_call_end|>"
        "<|tool_call_begin|>functions.get_weather:1<|tool_call_argument_begin|>"
        '{"location": "Paris"}<|tool_call_end|><|tool_calls_section_end|>',
        [("add", {"a": 1, "b": 2}), PARIS],
        "",
    ),
    "Kimi near-miss: a call id in prose": Case(
        "Kimi names a call functions.get_weather:0 in its history."
    ),
    "gpt-oss: analysis, then a commentary call": Case(
        "<|channel|>analysis<|message|>User asks for Paris weather. Use get_weather.<|end|>"
        "<|start|>assistant<|channel|>commentary to=functions.get_weather <|constrain|>json"
        '<|message|>{"location":"Paris"}<|call|>',
        [PARIS],
        "<|channel|>analysis<|message|>User asks for Paris weather. Use get_weather.<|end|>",
    ),
    "gpt-oss: recipient in the header": Case(
        "<|start|>assistant to=functions.add<|channel|>commentary json"
        '<|message|>{"a": 2, "b": 3}<|call|>',
        [("add", {"a": 2, "b": 3})],
        "",
    ),
    "gpt-oss near-miss: the recipient named in prose": Case(
        "Harmony routes a call with to=functions.get_weather in the message header."
    ),
    "gpt-oss: arguments that never close": Case(
        '<|channel|>commentary to=functions.add <|constrain|>json<|message|>{"a": 1,',
        problem="do not close",
    ),
    "GLM: thinking, then key and value tags": Case(
        "<think>The user wants the weather.</think>\n<tool_call>get_weather\n"
        "<arg_key>location</arg_key>\n<arg_value>Paris</arg_value>\n</tool_call>",
        [PARIS],
        "<think>The user wants the weather.</think>",
    ),
    "GLM (4.7): compact tags, typed values": Case(
        "Let me add.\n<tool_call>add<arg_key>a</arg_key><arg_value>2</arg_value>"
        "<arg_key>b</arg_key><arg_value>3</arg_value></tool_call>",
        [("add", {"a": 2, "b": 3})],
        "Let me add.",
    ),
    "GLM: a string argument stays as written": Case(
        "<tool_call>lookup<arg_key>query</arg_key><arg_value>42</arg_value></tool_call>",
        [("lookup", {"query": "42"})],
        "",
    ),
    "GLM: a tool without arguments": Case(
        "<tool_call>magic_function_no_args</tool_call>", [("magic_function_no_args", {})], ""
    ),
    "GLM near-miss: a word in tags that is not a tool": Case("<tool_call>note</tool_call>"),
    "GLM: an unknown tool with arguments": Case(
        "<tool_call>delete_all<arg_key>confirm</arg_key><arg_value>true</arg_value></tool_call>",
        problem='"delete_all", which is not a tool here',
    ),
    "Granite: tool_call token and a list": Case(
        '<|tool_call|>[{"name": "get_weather", "arguments": {"location": "Paris"}}]',
        [PARIS],
        "",
    ),
    "Granite: two calls after prose": Case(
        'Checking both.<|tool_call|>[{"name": "add", "arguments": {"a": 1, "b": 2}},'
        ' {"name": "get_weather", "arguments": {"location": "Paris"}}]',
        [("add", {"a": 1, "b": 2}), PARIS],
        "Checking both.",
    ),
    "Granite near-miss: the token named in prose": Case(
        "Granite writes <|tool_call|> before its calls."
    ),
    "GLM (5.3): two calls back to back, no line breaks": Case(
        "<tool_call>add<arg_key>a</arg_key><arg_value>2</arg_value><arg_key>b</arg_key>"
        "<arg_value>3</arg_value></tool_call><tool_call>get_weather<arg_key>location</arg_key>"
        "<arg_value>Paris</arg_value></tool_call>",
        [("add", {"a": 2, "b": 3}), PARIS],
        "",
    ),
    "GLM (4.7): reasoning the template opened, closed before the call": Case(
        "The user wants the weather in Paris.</think><tool_call>get_weather<arg_key>location"
        "</arg_key><arg_value>Paris</arg_value></tool_call>",
        [PARIS],
        "The user wants the weather in Paris.</think>",
    ),
    "Qwen (Qwen 3.8): function tags after reasoning the template opened": Case(
        "The user wants 2 + 3.\n</think>\n\n<tool_call>\n<function=add>\n<parameter=a>\n2\n"
        "</parameter>\n<parameter=b>\n3\n</parameter>\n</function>\n</tool_call>",
        [("add", {"a": 2, "b": 3})],
        "The user wants 2 + 3.\n</think>",
    ),
    "Qwen (Qwen 3.8): a call drafted before the template-opened reasoning closes is not made": Case(
        "I might call <tool_call>\n<function=add>\n<parameter=a>\n1\n</parameter>\n"
        "<parameter=b>\n1\n</parameter>\n</function>\n</tool_call> but they want 2 + 3.\n"
        "</think>\n\n<tool_call>\n<function=add>\n<parameter=a>\n2\n</parameter>\n"
        "<parameter=b>\n3\n</parameter>\n</function>\n</tool_call>",
        [("add", {"a": 2, "b": 3})],
        "I might call <tool_call>\n<function=add>\n<parameter=a>\n1\n</parameter>\n"
        "<parameter=b>\n1\n</parameter>\n</function>\n</tool_call> but they want 2 + 3.\n"
        "</think>",
    ),
    "Qwen (Qwen 3.8): reasoning that goes straight to a call without closing": Case(
        "<think>\nThe user wants 2 + 3.\n<tool_call>\n<function=add>\n<parameter=a>\n2\n"
        "</parameter>\n<parameter=b>\n3\n</parameter>\n</function>\n</tool_call>",
        [("add", {"a": 2, "b": 3})],
        "<think>\nThe user wants 2 + 3.",
    ),
    "Qwen near-miss: a closing tag named in prose": Case(
        "Models end their reasoning with </think>, then answer."
    ),
    "Nemotron (3): Python's None in a parameter, as its template writes it": Case(
        "<tool_call>\n<function=lookup>\n<parameter=query>\nParis\n</parameter>\n"
        "<parameter=limit>\nNone\n</parameter>\n</function>\n</tool_call>\n",
        [("lookup", {"query": "Paris", "limit": None})],
        "",
    ),
    "Nemotron (3): prose, then two calls": Case(
        "Checking both.\n<tool_call>\n<function=add>\n<parameter=a>\n1\n</parameter>\n"
        "<parameter=b>\n2\n</parameter>\n</function>\n</tool_call>\n<tool_call>\n"
        "<function=get_weather>\n<parameter=location>\nParis\n</parameter>\n</function>\n"
        "</tool_call>\n",
        [("add", {"a": 1, "b": 2}), PARIS],
        "Checking both.",
    ),
    "Nemotron near-miss: the tags named in prose": Case(
        "Nemotron wraps each call in <tool_call><function=name> tags, one per call."
    ),
    "Gemma (Gemma 4): a call in its tokens, then the response token": Case(
        '<|tool_call>call:get_weather{location:<|"|>Paris<|"|>}<tool_call|><|tool_response>',
        [PARIS],
        "",
    ),
    "Gemma (Gemma 4): prose, then two calls back to back": Case(
        'Both.<|tool_call>call:add{a:2,b:3}<tool_call|><|tool_call>call:get_weather{location:<|"|>'
        'Paris<|"|>,unit:<|"|>celsius<|"|>}<tool_call|>',
        [("add", {"a": 2, "b": 3}), ("get_weather", {"location": "Paris", "unit": "celsius"})],
        "Both.",
    ),
    "Gemma (Gemma 4): nested values and a string that looks like a number": Case(
        '<|tool_call>call:lookup{filter:{tag:<|"|>x, y<|"|>},limit:null,query:<|"|>42<|"|>}'
        "<tool_call|>",
        [("lookup", {"filter": {"tag": "x, y"}, "limit": None, "query": "42"})],
        "",
    ),
    "Gemma (Gemma 4): a call drafted on the thought channel is not made": Case(
        "<|channel>thought\nMaybe <|tool_call>call:add{a:1,b:1}<tool_call|> first.<channel|>"
        "<|tool_call>call:add{a:2,b:3}<tool_call|>",
        [("add", {"a": 2, "b": 3})],
        "<|channel>thought\nMaybe <|tool_call>call:add{a:1,b:1}<tool_call|> first.<channel|>",
    ),
    "Gemma (Gemma 4, special tokens dropped): bare strings": Case(
        "call:get_weather{location:Paris,unit:celsius}",
        [("get_weather", {"location": "Paris", "unit": "celsius"})],
        "",
    ),
    "Gemma (Gemma 4, special tokens dropped): after prose, a number": Case(
        "Adding now. call:add{a:2,b:3}", [("add", {"a": 2, "b": 3})], "Adding now."
    ),
    "Gemma near-miss (Gemma 4): call: in prose, and a word that ends in it": Case(
        "Make the call: tomorrow. Then recall:get_weather{location:Paris} later."
    ),
    "Gemma near-miss (Gemma 4): a bare call of something that is not a tool": Case(
        "call:note{text:hello}"
    ),
    "Gemma (Gemma 4): a call whose closing token never came": Case(
        "Adding.<|tool_call>call:add{a:2,b:3}", [("add", {"a": 2, "b": 3})], "Adding."
    ),
    "Gemma (Gemma 4): arguments that never close": Case(
        '<|tool_call>call:add{a:1,b:<|"|>2', problem="do not close"
    ),
    "Gemma (Gemma 4): an unknown tool in its tokens": Case(
        "<|tool_call>call:delete_all{confirm:true}<tool_call|>",
        problem='"delete_all", which is not a tool here',
    ),
    "Gemma (Gemma 4): arguments in a syntax of no kind": Case(
        "<|tool_call>call:add{a 1 b 2}<tool_call|>", problem="the arguments of 'add'"
    ),
    "Granite (4.0): Hermes tags": Case(
        '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>',
        [("add", {"a": 1, "b": 2})],
        "",
    ),
    "Phi-4-mini: functools list": Case(
        'functools[{"name": "add", "arguments": {"a": 1, "b": 2}}]',
        [("add", {"a": 1, "b": 2})],
        "",
    ),
    "Phi-4-mini: functools after prose": Case(
        'I will call it. functools[{"name": "get_weather", "arguments": {"location": "Paris"}}]',
        [PARIS],
        "I will call it.",
    ),
}
FAMILIES = (
    "Llama",
    "Qwen",
    "Hermes",
    "Mistral",
    "Gemma",
    "DeepSeek",
    "Kimi",
    "gpt-oss",
    "GLM",
    "Nemotron",
    "Granite",
    "Phi-4-mini",
)
CORPUS.update(NATIVE)


def _family(name: str) -> str:
    """The family a native case is named after: "Mistral (Small 3.2): ..." is Mistral's."""
    head = name.split(":", 1)[0].removesuffix(" near-miss")
    return next(family for family in FAMILIES if head == family or head.startswith(f"{family} "))


def test_every_family_has_two_examples_and_a_near_miss() -> None:
    for family in FAMILIES:
        cases = {name: case for name, case in NATIVE.items() if _family(name) == family}
        examples = [case for name, case in cases.items() if case.calls]
        near_misses = [case for name, case in cases.items() if "near-miss" in name]
        assert len(examples) >= 2, family
        if family != "Phi-4-mini":  # not in the catalog; its opening is a plain word
            assert near_misses, family
        assert all(not case.calls and case.problem is None for case in near_misses), family


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


def test_a_call_drafted_in_reasoning_whose_opening_was_already_shown_is_not_made() -> None:
    """Streamed, the prose before the first brace is shown; the held rest starts mid-reasoning."""
    reply = (
        '<think>\nI could call {"name": "add", "arguments": {"a": 1, "b": 1}}, but they asked'
        ' for 2 and 3.\n</think>\n<tool_call>\n{"name": "add", "arguments": {"a": 2, "b": 3}}\n'
        "</tool_call>"
    )
    splitter = ProseSplitter()
    shown = "".join(splitter.feed(reply[i : i + 5]) for i in range(0, len(reply), 5))

    assert shown == "<think>\nI could call "
    parsed = parse_reply(splitter.held(), TOOLS, "auto")
    assert [(call.name, dict(call.arguments)) for call in parsed.calls] == [
        ("add", {"a": 2, "b": 3})
    ]


@pytest.mark.parametrize(
    ("written", "read"),
    [("0", "0"), ("true", "true"), ("Paris", "Paris"), ("null", None), ("None", None)],
)
def test_a_tagged_string_or_null_argument_is_text_unless_it_reads_as_null(written, read) -> None:
    note = Tool(
        "note", parameters={"type": "object", "properties": {"text": {"type": ["string", "null"]}}}
    )
    for reply in (
        f"<tool_call>note<arg_key>text</arg_key><arg_value>{written}</arg_value></tool_call>",
        f"<tool_call>\n<function=note>\n<parameter=text>\n{written}\n</parameter>\n</function>\n</tool_call>",
    ):
        (call,) = parse_reply(reply, [note], "auto").calls
        assert dict(call.arguments) == {"text": read}

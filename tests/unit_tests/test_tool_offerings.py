"""Which family a model id gets, and what each family's offering writes into the conversation."""

from __future__ import annotations

import ast
import json

import pytest

from langchain_cloudflare_playground.client.messages import normalize_messages
from langchain_cloudflare_playground.client.tools.native_writers import (
    mistral_call_id,
    pythonic_calls,
    typescript_namespace,
)
from langchain_cloudflare_playground.client.tools.offerings import (
    GENERIC,
    OFFERINGS,
    offering_for,
    written_for,
)
from langchain_cloudflare_playground.client.tools.parser import parse_reply
from langchain_cloudflare_playground.client.tools.spec import Tool, ToolCall
from tests.helpers import ADD


@pytest.mark.parametrize(
    ("model", "offering"),
    [
        ("@cf/meta/llama-3.3-70b-instruct-fp8-fast", "llama-json"),
        ("@cf/meta/llama-3.1-8b-instruct-fp8", "llama-json"),
        ("@cf/meta/llama-3.2-3b-instruct", "pythonic"),
        ("@cf/meta/llama-3.2-11b-vision-instruct", "pythonic"),
        ("@cf/meta/llama-4-scout-17b-16e-instruct", "pythonic"),
        ("@cf/google/gemma-3-12b-it", "gemma"),
        ("@cf/qwen/qwen2.5-coder-32b-instruct", "hermes"),
        ("@cf/qwen/qwq-32b", "hermes"),
        ("@cf/qwen/qwen3-30b-a3b-fp8", "hermes"),
        ("@hf/nousresearch/hermes-2-pro-mistral-7b", "hermes"),
        ("@cf/zai-org/glm-4.7-flash", "glm"),
        ("@cf/mistralai/mistral-small-3.1-24b-instruct", "mistral"),
        ("@cf/openai/gpt-oss-120b", "harmony"),
        ("@cf/openai/gpt-oss-20b", "harmony"),
        # No format of their own for offering tools, or none the playground can carry:
        ("@cf/meta/llama-guard-3-8b", "generic"),
        ("@hf/meta-llama/meta-llama-3-8b-instruct", "generic"),
        ("@cf/meta/llama-2-7b-chat-int8", "generic"),
        ("@hf/mistral/mistral-7b-instruct-v0.2", "generic"),
        ("@hf/google/gemma-7b-it", "generic"),
        ("@cf/qwen/qwen1.5-7b-chat-awq", "generic"),
        ("@cf/deepseek-ai/deepseek-r1-distill-qwen-32b", "generic"),
        ("@cf/moonshotai/kimi-k2.6", "generic"),
        ("@cf/acme/sparrow-9b-instruct-awq", "generic"),
    ],
)
def test_each_model_id_gets_its_familys_offering(model, offering):
    assert offering_for(model).name == offering


def test_offering_names_are_unique_and_generic_is_not_in_the_table():
    names = [offering.name for offering in OFFERINGS]
    assert len(names) == len(set(names))
    assert GENERIC.name not in names


def test_the_generic_offering_lists_each_tool_with_its_schema():
    conversation = written_for(GENERIC, normalize_messages("Add 1 and 2."), [ADD], "required")
    assert conversation.system is not None
    assert "\n## add\nAdd two integers.\nArguments JSON schema: " in conversation.system
    assert '{"tool_calls": [{"name": "<tool name>"' in conversation.system


@pytest.mark.parametrize("offering", OFFERINGS, ids=lambda offering: offering.name)
@pytest.mark.parametrize("choice", ["auto", "required", "add"])
def test_every_offering_lists_each_tool_and_says_when_to_call(offering, choice):
    conversation = written_for(
        offering,
        normalize_messages(
            [
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": "Add 1 and 2."},
            ]
        ),
        [ADD],
        choice,
    )
    assert conversation.system is not None
    assert conversation.system.startswith("Be brief.\n\n# Tools\n\n")
    everything = conversation.system + conversation.turns[-1].content
    assert '"name": "add"' in everything or "type add = " in everything
    assert "Add two integers." in everything
    when = {
        "auto": "Call a tool only when it helps",
        "required": "You must call at least one tool now.",
        "add": 'You must call the tool "add" now.',
    }
    assert when[choice] in conversation.system


def test_json_definitions_carry_the_whole_schema():
    conversation = written_for(
        offering_for("@cf/qwen/qwq-32b"), normalize_messages("x"), [ADD], "auto"
    )
    assert conversation.system is not None
    listed = conversation.system.split("<tools>\n", 1)[1].split("\n</tools>", 1)[0]
    assert json.loads(listed) == {
        "type": "function",
        "function": {
            "name": "add",
            "description": "Add two integers.",
            "parameters": dict(ADD.parameters),
        },
    }


def _history():
    return normalize_messages(
        [
            {"role": "user", "content": "Add 1 and 2."},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c9", "name": "add", "arguments": {"a": 1, "b": 2}}],
            },
            {"role": "tool", "tool_call_id": "c9", "content": "3"},
        ]
    )


def test_mistral_gets_its_tools_before_the_request_not_before_the_results():
    mistral = offering_for("@cf/mistralai/mistral-small-3.1-24b-instruct")
    turns = written_for(mistral, _history(), [ADD], "auto").turns

    assert turns[0].content.startswith('[AVAILABLE_TOOLS][{"type": "function"')
    assert turns[0].content.endswith("[/AVAILABLE_TOOLS]Add 1 and 2.")
    assert turns[1].content == (
        '[TOOL_CALLS][{"name": "add", "arguments": {"a": 1, "b": 2}, "id": "call00001"}]'
    )
    # The result names the call by the same id.
    assert (
        turns[2].content == '[TOOL_RESULTS]{"content": "3", "call_id": "call00001"}[/TOOL_RESULTS]'
    )


@pytest.mark.parametrize(
    ("model", "call", "result"),
    [
        (
            "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
            '{"name": "add", "parameters": {"a": 1, "b": 2}}',
            "Tool result for add (call 1):\n3",
        ),
        (
            "@cf/meta/llama-4-scout-17b-16e-instruct",
            "[add(a=1, b=2)]",
            "Tool result for add (call 1):\n3",
        ),
        ("@cf/google/gemma-3-12b-it", "[add(a=1, b=2)]", "```tool_output\n3\n```"),
        (
            "@cf/qwen/qwq-32b",
            '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>',
            "<tool_response>\n3\n</tool_response>",
        ),
        (
            "@cf/zai-org/glm-4.7-flash",
            (
                "<tool_call>add\n<arg_key>a</arg_key>\n<arg_value>1</arg_value>\n"
                "<arg_key>b</arg_key>\n<arg_value>2</arg_value>\n</tool_call>"
            ),
            "<tool_response>\n3\n</tool_response>",
        ),
        (
            "@cf/openai/gpt-oss-120b",
            (
                "<|channel|>commentary to=functions.add <|constrain|>json<|message|>"
                '{"a": 1, "b": 2}<|call|>'
            ),
            "Tool result for add (call 1):\n3",
        ),
    ],
)
def test_earlier_calls_and_results_are_written_the_familys_way(model, call, result):
    turns = written_for(offering_for(model), _history(), [ADD], "none").turns
    assert [turn.content for turn in turns] == ["Add 1 and 2.", call, result]


def test_with_tool_choice_none_the_history_is_written_but_no_tools_are_offered():
    conversation = written_for(offering_for("@cf/qwen/qwq-32b"), _history(), [ADD], "none")
    assert conversation.system is None
    assert "<tool_call>" in conversation.turns[1].content


def test_a_failed_call_is_marked_once_in_a_familys_markup():
    conversation = normalize_messages(
        [
            {"role": "user", "content": "Add."},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c", "name": "add", "arguments": {}}],
            },
            {"role": "tool", "tool_call_id": "c", "content": "missing a", "is_error": True},
            {"role": "tool", "tool_call_id": "c", "content": "Error: missing b", "is_error": True},
        ]
    )
    turns = written_for(offering_for("@cf/qwen/qwq-32b"), conversation, (), "auto").turns
    assert turns[2].content == (
        "<tool_response>\nError: missing a\n</tool_response>\n"
        "<tool_response>\nError: missing b\n</tool_response>"
    )


def test_pythonic_calls_are_python_literals_the_parser_reads_back():
    arguments = {
        "text": 'say "hi"\n',
        "flag": True,
        "nothing": None,
        "items": [1, 2.5, "x"],
        "nested": {"k": False},
    }
    written = pythonic_calls("", [ToolCall("c", "f", arguments)])
    tree = ast.parse(written, mode="eval")
    assert isinstance(tree.body, ast.List)
    assert {kw.arg: ast.literal_eval(kw.value) for kw in tree.body.elts[0].keywords} == arguments
    tool = Tool("f", parameters={"type": "object", "properties": {}})
    assert [dict(c.arguments) for c in parse_reply(written, [tool], "required").calls] == [
        arguments
    ]


def test_the_typescript_namespace_writes_types_optionals_enums_defaults_and_references():
    tool = Tool(
        "get_weather",
        "Get the weather.\nIn one city.",
        {
            "type": "object",
            "properties": {
                "location": {"type": "string", "description": "A city."},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "celsius"},
                "days": {"type": "array", "items": {"type": "integer"}},
                "when": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                "near": {"$ref": "#/$defs/Point"},
            },
            "required": ["location"],
            "$defs": {
                "Point": {
                    "type": "object",
                    "properties": {"x": {"type": "number"}, "y": {"type": "number"}},
                    "required": ["x", "y"],
                }
            },
        },
    )
    assert typescript_namespace([tool, Tool("ping")]) == (
        "namespace functions {\n\n"
        "// Get the weather.\n"
        "// In one city.\n"
        "type get_weather = (_: {\n"
        "// A city.\n"
        "location: string,\n"
        'unit?: "celsius" | "fahrenheit", // default: "celsius"\n'
        "days?: number[],\n"
        "when?: string | null,\n"
        "near?: {\n"
        "x: number,\n"
        "y: number,\n"
        "},\n"
        "}) => any;\n\n"
        "type ping = () => any;\n\n"
        "} // namespace functions"
    )


@pytest.mark.parametrize("model", ["@cf/meta/llama-3.2-3b-instruct", "@cf/google/gemma-3-12b-it"])
@pytest.mark.parametrize(
    "tool",
    [
        Tool("get-weather", parameters={"type": "object", "properties": {"city": {}}}),
        Tool("convert", parameters={"type": "object", "properties": {"from": {}, "to": {}}}),
    ],
    ids=["name-not-an-identifier", "argument-a-keyword"],
)
def test_names_python_cannot_call_get_the_generic_offer_not_the_pythonic_one(model, tool):
    conversation = written_for(offering_for(model), normalize_messages("Go."), [tool], "auto")
    assert conversation.system is not None
    assert "# How to call tools" in conversation.system  # the generic format's heading
    assert "[func_name1(" not in conversation.system


def test_an_earlier_call_python_cannot_write_gets_the_generic_form_too():
    history = normalize_messages(
        [
            {"role": "user", "content": "Convert."},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c", "name": "convert", "arguments": {"from": "USD"}}],
            },
            {"role": "tool", "tool_call_id": "c", "content": "1.1"},
        ]
    )
    turns = written_for(offering_for("@cf/meta/llama-3.2-3b-instruct"), history, (), "none").turns
    assert turns[1].content == '{"tool_calls": [{"name": "convert", "arguments": {"from": "USD"}}]}'


def test_mistral_without_a_request_turn_puts_its_tools_in_the_last_user_turn():
    history = normalize_messages(
        [
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c9", "name": "add", "arguments": {"a": 1, "b": 2}}],
            },
            {"role": "tool", "tool_call_id": "c9", "content": "3"},
        ]
    )
    mistral = offering_for("@cf/mistralai/mistral-small-3.1-24b-instruct")
    conversation = written_for(mistral, history, [ADD], "auto")
    assert conversation.turns[1].content.startswith("[AVAILABLE_TOOLS][")
    assert conversation.turns[1].content.endswith("[/TOOL_RESULTS]")


def test_mistral_with_no_user_turn_at_all_lists_its_tools_in_the_system_prompt():
    only_assistant = normalize_messages([{"role": "assistant", "content": "Hello."}])
    mistral = offering_for("@cf/mistralai/mistral-small-3.1-24b-instruct")
    conversation = written_for(mistral, only_assistant, [ADD], "auto")
    assert conversation.system is not None
    assert '[AVAILABLE_TOOLS][{"type": "function", "function": {"name": "add"' in (
        conversation.system
    )


def test_several_harmony_calls_are_each_a_message_of_their_own():
    calls = [ToolCall("1", "add", {"a": 1}), ToolCall("2", "add", {"a": 2})]
    written = offering_for("@cf/openai/gpt-oss-20b").write_calls("", calls)
    assert written == (
        '<|channel|>commentary to=functions.add <|constrain|>json<|message|>{"a": 1}<|call|>'
        "<|start|>assistant"
        '<|channel|>commentary to=functions.add <|constrain|>json<|message|>{"a": 2}<|call|>'
    )
    tool = Tool("add", parameters={"type": "object", "properties": {"a": {"type": "integer"}}})
    assert [dict(c.arguments) for c in parse_reply(written, [tool], "auto").calls] == [
        {"a": 1},
        {"a": 2},
    ]


@pytest.mark.parametrize(
    ("reference", "written"),
    [("1", "call00001"), ("12", "call00012"), ("²", "000000000"), ("call-a.b", "callab000")],
)
def test_mistral_call_ids_are_nine_characters_made_from_the_reference(reference, written):
    assert mistral_call_id(reference) == written


def test_the_typescript_namespace_survives_unusual_schemas():
    tool = Tool(
        "t",
        parameters={
            "type": "object",
            "properties": {
                "maybe": {"type": ["object", "null"], "properties": {"x": {"type": "string"}}},
                "either": {"type": ["string", "null"]},
                "empty_enum": {"enum": []},
                "odd_union": {"anyOf": [1, 2]},
                "first name": {"type": "string"},
            },
            "required": [{"not": "a name"}, "maybe"],
        },
    )
    assert typescript_namespace([tool]).split("\n")[2:-2] == [
        "type t = (_: {",
        "maybe: {",
        "x?: string,",
        "} | null,",
        "either?: string | null,",
        "empty_enum?: any,",
        "odd_union?: any,",
        '"first name"?: string,',
        "}) => any;",
    ]

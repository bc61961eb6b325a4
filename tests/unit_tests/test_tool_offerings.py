"""Which family a model id gets, and what each family's offering writes into the conversation."""

from __future__ import annotations

import ast
import json
import re

import pytest

from langchain_cloudflare_playground.client.messages import normalize_messages
from langchain_cloudflare_playground.client.tools.native_writers import (
    gemma_declarations,
    mistral_call_id,
    pythonic_calls,
    typescript_namespace,
    xml_function_listing,
)
from langchain_cloudflare_playground.client.tools.offerings import (
    GENERIC,
    OFFERINGS,
    offering_for,
    written_for,
)
from langchain_cloudflare_playground.client.tools.parser import parse_reply
from langchain_cloudflare_playground.client.tools.spec import Tool, ToolCall, ToolResult
from tests.helpers import ADD

ANY_OBJECT = Tool("f", parameters={"type": "object", "properties": {}})


def _read_back(written: str, tool: Tool = ANY_OBJECT) -> list[dict[str, object]]:
    """The arguments of the calls the parser reads in ``written``."""
    return [dict(call.arguments) for call in parse_reply(written, [tool], "required").calls]


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
        ("@cf/zai-org/glm-5.3", "glm"),
        ("@cf/zai-org/glm-5.3-flash", "glm"),
        ("@cf/zai-org/glm-4.5-air", "glm-4.5"),
        ("@cf/qwen/qwen3.8-27b", "qwen3.5"),
        ("@cf/qwen/qwen3-coder-30b-a3b-instruct", "qwen3-coder"),
        ("@cf/nvidia/nemotron-3-120b-a12b", "qwen3-coder"),
        ("@cf/google/gemma-4-26b-a4b-it", "gemma-4"),
        ("@cf/ibm-granite/granite-4.0-h-micro", "granite-4"),
        ("@cf/ibm-granite/granite-4.2-8b", "qwen3.5"),
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
    names = ('"name": "add"', "type add = ", "<name>add</name>", "<|tool>declaration:add{")
    assert any(name in everything for name in names)
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
                "<tool_call>add<arg_key>a</arg_key><arg_value>1</arg_value>"
                "<arg_key>b</arg_key><arg_value>2</arg_value></tool_call>"
            ),
            "<tool_response>3</tool_response>",
        ),
        (
            "@cf/zai-org/glm-4.5-air",
            (
                "<tool_call>add\n<arg_key>a</arg_key>\n<arg_value>1</arg_value>\n"
                "<arg_key>b</arg_key>\n<arg_value>2</arg_value>\n</tool_call>"
            ),
            "<tool_response>\n3\n</tool_response>",
        ),
        (
            "@cf/qwen/qwen3.8-27b",
            (
                "<tool_call>\n<function=add>\n<parameter=a>\n1\n</parameter>\n"
                "<parameter=b>\n2\n</parameter>\n</function>\n</tool_call>"
            ),
            "<tool_response>\n3\n</tool_response>",
        ),
        (
            "@cf/google/gemma-4-26b-a4b-it",
            "<|tool_call>call:add{a:1,b:2}<tool_call|>",
            '<|tool_response>response:add{value:<|"|>3<|"|>}<tool_response|>',
        ),
        (
            "@cf/ibm-granite/granite-4.0-h-micro",
            '<tool_call>\n{"name": "add", "arguments": {"a": 1, "b": 2}}\n</tool_call>',
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
    assert _read_back(written) == [arguments]


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


def test_glm_4_7_and_later_write_calls_and_results_back_to_back():
    calls = [ToolCall("1", "add", {"a": 1}), ToolCall("2", "magic", {})]
    glm = offering_for("@cf/zai-org/glm-5.3")
    assert glm.write_calls("Both.", calls) == (
        "Both.\n<tool_call>add<arg_key>a</arg_key><arg_value>1</arg_value></tool_call>"
        "<tool_call>magic</tool_call>"
    )
    results = [ToolResult("1", "add", "2"), ToolResult("2", "magic", "x", is_error=True)]
    assert glm.write_results(results) == (
        "<tool_response>2</tool_response><tool_response>Error: x</tool_response>"
    )
    assert "<tool_call>{function-name}<arg_key>{arg-key-1}</arg_key><arg_value>" in (
        glm.system_section([ADD], "auto")
    )


def test_nemotron_writes_scalars_as_python_and_qwen_3_8_as_json():
    arguments = {"flag": True, "nothing": None, "n": 2.5, "items": [1, "x"], "text": "True"}
    call = [ToolCall("1", "f", arguments)]
    nemotron = offering_for("@cf/nvidia/nemotron-3-120b-a12b").write_calls("", call)
    qwen = offering_for("@cf/qwen/qwen3.8-27b").write_calls("", call)

    def values(written: str) -> list[str]:
        return re.findall(r"<parameter=\w+>\n(.*?)\n</parameter>", written)

    assert values(nemotron) == ["True", "None", "2.5", '[1, "x"]', "True"]
    assert values(qwen) == ["true", "null", "2.5", '[1, "x"]', "True"]
    tool = Tool("f", parameters={"type": "object", "properties": {"text": {"type": "string"}}})
    assert _read_back(nemotron, tool) == _read_back(qwen, tool) == [arguments]


def test_the_xml_listing_gives_each_argument_its_tags_as_nemotrons_template_does():
    tool = Tool(
        "get_weather",
        " Get the weather. ",
        {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "A city."},
                "unit": {"type": "string", "enum": ["c", "f"], "default": "c"},
                "days": {"type": "array", "items": {"type": "integer"}, "nullable": False},
            },
            "required": ["city"],
            "additionalProperties": False,
        },
    )
    assert xml_function_listing([tool, Tool("ping")]).split("\n") == [
        "<function>",
        "<name>get_weather</name>",
        "<description>Get the weather.</description>",
        "<parameters>",
        "<parameter>",
        "<name>city</name>",
        "<type>string</type>",
        "<description>A city.</description>",
        "</parameter>",
        "<parameter>",
        "<name>unit</name>",
        "<type>string</type>",
        '<enum>["c", "f"]</enum>',
        "<default>c</default>",
        "</parameter>",
        "<parameter>",
        "<name>days</name>",
        "<type>array</type>",
        '<items>{"type": "integer"}</items>',
        "<nullable>False</nullable>",
        "</parameter>",
        "<additionalProperties>False</additionalProperties>",
        '<required>["city"]</required>',
        "</parameters>",
        "</function>",
        "<function>",
        "<name>ping</name>",
        "<description></description>",
        "<parameters>",
        "</parameters>",
        "</function>",
    ]


def test_gemma_4_declarations_are_in_its_own_syntax_with_types_in_capitals():
    tool = Tool(
        "get_weather",
        "Get the weather.",
        {
            "type": "object",
            "properties": {
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "default": "c"},
                "location": {"type": "string", "description": "A city."},
                "days": {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "null"}]},
                "near": {"$ref": "#/$defs/Point"},
                "tags": {"type": ["array", "null"], "items": {"type": "string"}},
            },
            "required": ["location"],
            "$defs": {
                "Point": {
                    "type": "object",
                    "properties": {"x": {"type": "number"}},
                    "required": ["x"],
                }
            },
        },
    )
    q = '<|"|>'
    assert gemma_declarations([tool, Tool("ping")]) == (
        f"<|tool>declaration:get_weather{{description:{q}Get the weather.{q},parameters:{{"
        f"properties:{{days:{{nullable:true,type:{q}INTEGER{q}}},"
        f"location:{{description:{q}A city.{q},type:{q}STRING{q}}},"
        f"near:{{properties:{{x:{{type:{q}NUMBER{q}}}}},required:[{q}x{q}],type:{q}OBJECT{q}}},"
        f"tags:{{items:{{type:{q}STRING{q}}},nullable:true,type:{q}ARRAY{q}}},"
        f"unit:{{enum:[{q}celsius{q},{q}fahrenheit{q}],type:{q}STRING{q}}}}},"
        f"required:[{q}location{q}],type:{q}OBJECT{q}}}}}<tool|>"
        f"<|tool>declaration:ping{{description:{q}{q},parameters:{{type:{q}OBJECT{q}}}}}<tool|>"
    )


def test_gemma_4_calls_are_sorted_in_its_syntax_and_read_back():
    arguments = {"b": [1, None], "a": {"z": False, "odd key": "x"}, "text": 'say "hi", {ok}'}
    gemma = offering_for("@cf/google/gemma-4-26b-a4b-it")
    written = gemma.write_calls("", [ToolCall("1", "f", arguments)])
    assert written == (
        '<|tool_call>call:f{a:{<|"|>odd key<|"|>:<|"|>x<|"|>,z:false},b:[1,null],'
        'text:<|"|>say "hi", {ok}<|"|>}<tool_call|>'
    )
    assert _read_back(written) == [arguments]

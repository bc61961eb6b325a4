"""``with_structured_output``: by a forced tool call (the default), or by JSON instruction."""

from __future__ import annotations

from typing import TypedDict

import pytest
from langchain_core.exceptions import OutputParserException
from pydantic import BaseModel

from langchain_cloudflare_playground import ChatCloudflarePlayground
from tests.reference_server import Fault


class Colour(BaseModel):
    name: str
    shades: int


class ColourDict(TypedDict):
    name: str
    shades: int


def test_by_default_the_schema_is_a_tool_the_model_must_call(server):
    structured = ChatCloudflarePlayground(base_url=server.url).with_structured_output(Colour)
    colour = structured.invoke("A colour named 'teal' with 5 shades.")
    assert colour == Colour(name="teal", shades=5)
    request = server.inference_requests[-1].json
    system = request.get("system_message") or request["messages"][0]["content"]
    # The default model is a Llama 3.3: the schema is offered as its JSON function definition.
    assert '{"type": "function", "function": {"name": "Colour"' in system
    assert 'You must call the tool "Colour" now.' in system


def test_arguments_that_do_not_fit_are_sent_back_once(server):
    server.push(Fault(reply=['{"name": "Colour", "arguments": {"name": "red", "shades": "many"}}']))
    structured = ChatCloudflarePlayground(base_url=server.url).with_structured_output(Colour)
    assert structured.invoke("A colour named 'red' with 7 shades.") == Colour(name="red", shades=7)
    correction = server.inference_requests[-1].json["messages"][-1]["content"]
    assert "arguments.shades: expected integer, got string 'many'" in correction


def test_include_raw_with_a_model_that_never_calls(server):
    llm = ChatCloudflarePlayground(base_url=server.url)
    result = llm.with_structured_output(Colour, include_raw=True).invoke("[always-bad] teal")
    assert result["parsed"] is None
    assert result["parsing_error"] is None
    assert "no_such_tool" in result["raw"].response_metadata["tool_call_problem"]


def test_pydantic_schema_is_asked_for_and_validated(server):
    structured = ChatCloudflarePlayground(base_url=server.url).with_structured_output(
        Colour, method="json_schema"
    )
    colour = structured.invoke("teal")
    assert colour == Colour(name="teal", shades=3)
    system = server.inference_requests[-1].json
    instruction = system.get("system_message") or system["messages"][0]["content"]
    assert "Answer with one JSON object" in instruction
    assert '"shades"' in instruction  # the schema travelled with the instruction


@pytest.mark.parametrize(
    "schema",
    [ColourDict, Colour.model_json_schema()],
    ids=["typed-dict", "json-schema"],
)
def test_dict_schemas_give_dicts(server, schema):
    llm = ChatCloudflarePlayground(base_url=server.url)
    assert llm.with_structured_output(schema, method="json_schema").invoke("plum") == {
        "name": "plum",
        "shades": 3,
    }
    assert llm.with_structured_output(schema).invoke("'plum' has 4 shades") == {
        "name": "plum",
        "shades": 4,
    }


async def test_any_object_without_a_schema_and_async(server):
    structured = ChatCloudflarePlayground(base_url=server.url).with_structured_output(
        method="json_mode"
    )
    assert await structured.ainvoke("anything") == {"echo": "anything"}


def test_fenced_json_with_prose_around_it_is_parsed(server):
    server.push(
        Fault(reply=["Sure! Here it is:\n```json\n", '{"name": "red", ', '"shades": 7}\n```'])
    )
    structured = ChatCloudflarePlayground(base_url=server.url).with_structured_output(
        Colour, method="json_schema"
    )
    assert structured.invoke("x") == Colour(name="red", shades=7)


def test_a_reply_that_is_not_json_raises_or_is_reported_with_include_raw(server):
    llm = ChatCloudflarePlayground(base_url=server.url)
    server.push(Fault(reply=["I cannot do JSON today."]))
    with pytest.raises(OutputParserException):
        llm.with_structured_output(Colour, method="json_mode").invoke("x")
    server.push(Fault(reply=["I cannot do JSON today."]))
    result = llm.with_structured_output(Colour, method="json_mode", include_raw=True).invoke("x")
    assert result["parsed"] is None
    assert isinstance(result["parsing_error"], OutputParserException)
    assert result["raw"].content == "I cannot do JSON today."


@pytest.mark.parametrize(
    ("method", "shades"), [("json_schema", 3), ("json_mode", 3), ("function_calling", 0)]
)
def test_every_method_validates_the_answer(server, method, shades):
    # The scripted model fills what the request does not say: 3 in JSON mode, 0 for a call.
    llm = ChatCloudflarePlayground(base_url=server.url)
    structured = llm.with_structured_output(Colour, method=method, strict=True)
    assert structured.invoke("sky") == Colour(name="sky", shades=shades)


def test_bad_methods_and_missing_schemas_are_refused_with_advice(server):
    llm = ChatCloudflarePlayground(base_url=server.url)
    with pytest.raises(ValueError, match="method must be"):
        llm.with_structured_output(Colour, method="xml")
    with pytest.raises(ValueError, match='needs a schema; pass one, or use method="json_mode"'):
        llm.with_structured_output(None, method="function_calling")

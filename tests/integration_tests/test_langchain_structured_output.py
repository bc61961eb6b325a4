"""``with_structured_output(method="json_mode")``: JSON by instruction, parsed and validated."""

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


def test_pydantic_schema_is_asked_for_and_validated(server):
    structured = ChatCloudflarePlayground(base_url=server.url).with_structured_output(Colour)
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
    structured = ChatCloudflarePlayground(base_url=server.url).with_structured_output(schema)
    assert structured.invoke("plum") == {"name": "plum", "shades": 3}


async def test_any_object_without_a_schema_and_async(server):
    structured = ChatCloudflarePlayground(base_url=server.url).with_structured_output(
        method="json_mode"
    )
    assert await structured.ainvoke("anything") == {"echo": "anything"}


def test_fenced_json_with_prose_around_it_is_parsed(server):
    server.push(
        Fault(reply=["Sure! Here it is:\n```json\n", '{"name": "red", ', '"shades": 7}\n```'])
    )
    structured = ChatCloudflarePlayground(base_url=server.url).with_structured_output(Colour)
    assert structured.invoke("x") == Colour(name="red", shades=7)


def test_a_reply_that_is_not_json_raises_or_is_reported_with_include_raw(server):
    llm = ChatCloudflarePlayground(base_url=server.url)
    server.push(Fault(reply=["I cannot do JSON today."]))
    with pytest.raises(OutputParserException):
        llm.with_structured_output(Colour).invoke("x")
    server.push(Fault(reply=["I cannot do JSON today."]))
    result = llm.with_structured_output(Colour, include_raw=True).invoke("x")
    assert result["parsed"] is None
    assert isinstance(result["parsing_error"], OutputParserException)
    assert result["raw"].content == "I cannot do JSON today."


@pytest.mark.parametrize("method", ["json_schema", "function_calling"])
def test_every_method_takes_the_prompted_path(server, method):
    llm = ChatCloudflarePlayground(base_url=server.url)
    assert llm.with_structured_output(Colour, method=method, strict=True).invoke("sky") == Colour(
        name="sky", shades=3
    )
    with pytest.raises(ValueError, match="method must be"):
        llm.with_structured_output(Colour, method="xml")

"""``ChatCloudflarePlayground`` as a LangChain user drives it, against the real local servers."""

from __future__ import annotations

import threading

import pytest
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.exceptions import ModelRateLimitError
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import RateLimitError
from tests.helpers import run_example
from tests.reference_server import Fault

HISTORY = [
    SystemMessage("Be brief."),
    HumanMessage("Hi"),
    AIMessage("Hello"),
    HumanMessage("Name a colour"),
]


def model_for(url: str, **fields) -> ChatCloudflarePlayground:
    return ChatCloudflarePlayground(base_url=url, **fields)


def test_invoke_maps_system_messages_and_history(server):
    message = model_for(server.url, max_tokens=64).invoke(HISTORY)
    assert message.content.startswith("Echo: Name a colour |")
    assert "system=Be brief." in message.content
    assert "turns=3" in message.content
    assert "max_tokens=64" in message.content
    assert message.response_metadata["model_name"] == "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
    assert message.response_metadata["finish_reason"] == "stop"
    assert message.response_metadata["model_provider"] == "cloudflare-playground"
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_tokens"] > 0


def test_stream_is_chunked_and_ends_with_the_metadata_chunk(server):
    llm = model_for(server.url)
    chunks = list(llm.stream(HISTORY))
    assert len(chunks) > 5
    assert chunks[-1].chunk_position == "last"
    assert chunks[-1].response_metadata["finish_reason"] == "stop"
    assert "".join(c.text for c in chunks) == llm.invoke(HISTORY).content


async def test_async_paths_and_batches(server):
    llm = model_for(server.url)
    chunks = [c async for c in llm.astream("async hello")]
    assert "".join(c.text for c in chunks).startswith("Echo: async hello")
    assert (await llm.ainvoke("again")).content.startswith("Echo: again")
    replies = await llm.abatch(["a", "b", "c"])
    assert [r.content.split(" |")[0] for r in replies] == ["Echo: a", "Echo: b", "Echo: c"]
    assert [r.content.split(" |")[0] for r in llm.batch(["d", "e"])] == ["Echo: d", "Echo: e"]


async def test_sync_invoke_inside_a_running_loop(server):
    # A notebook cell: the event loop is running; invoke must neither fail nor block it.
    assert model_for(server.url).invoke("from a notebook").content.startswith("Echo: from")


def test_stop_sequences_are_enforced_on_the_client(server):
    llm = model_for(server.url)
    message = llm.invoke("stop here", stop=[" | model="])
    assert message.content == "Echo: stop here"
    assert message.response_metadata["finish_reason"] == "stop"
    streamed = "".join(c.text for c in llm.stream("stop here", stop=[" | model="]))
    assert streamed == "Echo: stop here"


def test_model_override_per_call(server):
    message = model_for(server.url).invoke("hi", model="llama-3.1-8b")
    assert message.response_metadata["model_name"] == "@cf/meta/llama-3.1-8b-instruct-fp8"


def test_reasoning_is_a_content_block_not_text(data_stream_server):
    message = model_for(data_stream_server.url, model="qwq-32b").invoke("why?")
    blocks = message.content_blocks
    assert blocks[0]["type"] == "reasoning"
    assert blocks[0]["reasoning"] == "Let me think. The user wants an echo."
    assert message.text.startswith("Echo: why?")
    assert "Let me think" not in message.text


def test_callbacks_run_in_the_callers_thread(server):
    seen: list[tuple[str, int]] = []

    class Tokens(BaseCallbackHandler):
        def on_llm_new_token(self, token: str, **kwargs) -> None:
            seen.append((token, threading.get_ident()))

    text = "".join(
        c.text for c in model_for(server.url).stream("hi", config={"callbacks": [Tokens()]})
    )
    assert "".join(token for token, _ in seen) == text
    assert {thread for _, thread in seen} == {threading.get_ident()}


def test_errors_are_both_the_clients_and_langchains(server):
    server.push(*[Fault(status=429, retry_after="0")] * 3)
    with pytest.raises(ModelRateLimitError) as info:
        model_for(server.url, max_retries=0).invoke("x")
    assert isinstance(info.value, RateLimitError)
    assert info.value.status == 429


def test_messages_the_playground_cannot_carry_are_refused_clearly(server):
    llm = model_for(server.url)
    # A tool result must answer a call made earlier in the conversation.
    with pytest.raises(ValueError, match="tool result for an unknown call '1'"):
        llm.invoke([HumanMessage("x"), ToolMessage("42", tool_call_id="1")])
    image = HumanMessage(
        content=[{"type": "text", "text": "what"}, {"type": "image_url", "image_url": {"url": "x"}}]
    )
    with pytest.raises(ValueError, match=r"content\[1\]: the image URL 'x' is not a data: or http"):
        llm.invoke([image])
    assert server.inference_requests == []


def test_in_a_chain(server):
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are {persona}."), ("human", "{question}")]
    )
    chain = prompt | model_for(server.url) | StrOutputParser()
    answer = chain.invoke({"persona": "terse", "question": "Name a colour"})
    assert answer.startswith("Echo: Name a colour")
    assert "system=You are terse." in answer


def test_client_options_as_keywords_go_to_client_options(server):
    llm = ChatCloudflarePlayground(base_url=server.url, transport="direct")
    assert llm.client_options == {"transport": "direct"}
    assert llm.client.options.transport == "direct"
    assert llm.invoke("hi").content.startswith("Echo: hi")


def test_wrong_options_fail_when_the_model_is_built():
    with pytest.raises(ValueError, match=r"unknown option\(s\) 'tranport'.*transport"):
        ChatCloudflarePlayground(tranport="direct")
    with pytest.raises(ValueError, match=r"unknown client option\(s\) 'tranport'.*transport"):
        ChatCloudflarePlayground(client_options={"tranport": "direct"})
    with pytest.raises(
        ValueError, match="transport must be one of 'auto', 'direct', 'impersonate', 'browser'"
    ):
        ChatCloudflarePlayground(transport="through the wall")
    with pytest.raises(ValueError, match="model_kwargs holds chat options"):
        ChatCloudflarePlayground(model_kwargs={"frequency_penalty": 1})


def test_the_former_places_of_options_still_work(server):
    with (
        pytest.warns(DeprecationWarning, match="`dialect` is now `wire_format`"),
        pytest.warns(DeprecationWarning, match="now go in `client_options`"),
    ):
        llm = ChatCloudflarePlayground(
            base_url=server.url, dialect="http", model_kwargs={"transport": "direct"}
        )
    assert llm.wire_format == "http"
    assert llm.client.options.transport == "direct"


def test_over_the_websocket(agents_server):
    llm = model_for(agents_server.url, temperature=0.25)
    message = llm.invoke(HISTORY)
    assert "system (state): Be brief." in message.content
    assert "temperature: 0.25" in message.content
    assert message.usage_metadata is None  # the Agents frames carry no usage
    chunks = list(llm.stream("streamed"))
    assert chunks[-1].chunk_position == "last"
    assert "last user: streamed" in "".join(c.text for c in chunks)


def test_the_demo_example_runs_against_a_local_playground(server):
    output = run_example("langchain_chain.py", server.url, python_options=("-W", "error"))
    assert "Echo: What is Cloudflare Workers AI?" in output
    assert "turns=3" in output  # the second turn carried the first
    assert "(the conversation holds 5 messages)" in output
    assert "model calls multiply({'a': 12, 'b': 34})" in output
    assert "The tool answered: 408." in output


def test_the_proxy_password_stays_out_of_reprs_and_serialisation(server):
    import json

    from langchain_core.load import dumpd

    llm = ChatCloudflarePlayground(base_url=server.url, proxy="http://user:secretpw@127.0.0.1:1")
    assert "secretpw" not in repr(llm)
    assert "secretpw" not in json.dumps(dumpd(llm))
    assert llm.client.options.proxy == "http://user:secretpw@127.0.0.1:1"  # still used

"""``cf-playground serve`` through the official ``openai`` SDK, sync and async, as people call it.

The server runs as a subprocess in front of the real local servers (the reference server of the
HTTP wire formats, the Agents SDK server); nothing here is our own client.
"""

from __future__ import annotations

import base64
import json

import openai
import pytest
from pydantic import BaseModel

from tests.reference_server import Fault
from tests.sample_images import VISION_MODEL, images_reported, png, reported
from tests.serve_process import ServeProcess

LLAMA = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
ADD_TOOL = {
    "type": "function",
    "function": {
        "name": "add",
        "description": "Add two integers.",
        "parameters": {
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "required": ["a", "b"],
        },
    },
}


class Colour(BaseModel):
    name: str
    shades: int


@pytest.fixture
def sdk(served_http):
    with openai.OpenAI(base_url=served_http.base_url, api_key="unused", max_retries=0) as client:
        yield client


@pytest.fixture
async def async_sdk(served_http):
    async with openai.AsyncOpenAI(
        base_url=served_http.base_url, api_key="unused", max_retries=0
    ) as client:
        yield client


def test_a_whole_reply(sdk, upstream):
    completion = sdk.chat.completions.create(
        model="llama-3.3-70b",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "hello"},
        ],
        max_tokens=99,
        temperature=0.5,
        user="someone",
        metadata={"run": "test"},
    )
    assert completion.object == "chat.completion"
    assert completion.id.startswith("chatcmpl-")
    assert completion.model == LLAMA  # the alias, resolved
    (choice,) = completion.choices
    assert choice.finish_reason == "stop"
    assert choice.message.role == "assistant"
    assert choice.message.content == (
        f"Echo: hello | model={LLAMA} | system=Be brief. | turns=1 | max_tokens=99"
    )
    assert completion.usage is not None
    assert completion.usage.total_tokens == (
        completion.usage.prompt_tokens + completion.usage.completion_tokens
    )
    (sent,) = upstream.inference_requests
    assert sent.json["temperature"] == 0.5


async def test_a_streamed_reply_async(async_sdk):
    stream = await async_sdk.chat.completions.create(
        model="llama-3.3-70b",
        messages=[{"role": "user", "content": "stream me"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    assert len({chunk.id for chunk in chunks}) == 1
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.startswith("Echo: stream me | model=")
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop"
    assert set(finishes[:-1]) == {None}
    assert chunks[-1].choices == []
    assert chunks[-1].usage is not None
    assert chunks[-1].usage.completion_tokens > 0


def test_reasoning_comes_in_reasoning_content(sdk):
    completion = sdk.chat.completions.create(
        model="qwq-32b", messages=[{"role": "user", "content": "think"}]
    )
    message = completion.choices[0].message
    assert message.model_extra["reasoning_content"] == "Let me think. The user wants an echo."
    assert message.content.startswith("Echo: think")
    stream = sdk.chat.completions.create(
        model="qwq-32b", messages=[{"role": "user", "content": "think"}], stream=True
    )
    reasoning = "".join(
        chunk.choices[0].delta.model_extra.get("reasoning_content") or "" for chunk in stream
    )
    assert reasoning == "Let me think. The user wants an echo."


def test_tools_end_to_end(sdk):
    messages = [{"role": "user", "content": "What is 3 plus 4? Use add."}]
    first = sdk.chat.completions.create(
        model="llama-3.3-70b", messages=messages, tools=[ADD_TOOL], tool_choice="auto"
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls
    assert call.type == "function"
    assert call.function.name == "add"
    assert json.loads(call.function.arguments) == {"a": 3, "b": 4}
    messages += [
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "7"},
    ]
    answer = sdk.chat.completions.create(model="llama-3.3-70b", messages=messages, tools=[ADD_TOOL])
    assert answer.choices[0].finish_reason == "stop"
    assert "7" in answer.choices[0].message.content
    assert not answer.choices[0].message.tool_calls


async def test_streamed_tool_calls_come_in_pieces(async_sdk):
    stream = await async_sdk.chat.completions.create(
        model="llama-3.3-70b",
        messages=[{"role": "user", "content": "What is 3 plus 4? Use add."}],
        tools=[ADD_TOOL],
        tool_choice={"type": "function", "function": {"name": "add"}},
        stream=True,
    )
    pieces = [
        call
        async for chunk in stream
        if chunk.choices
        for call in chunk.choices[0].delta.tool_calls or ()
    ]
    assert pieces[0].index == 0
    assert pieces[0].id.startswith("call_")
    assert pieces[0].function.name == "add"
    assert {piece.index for piece in pieces} == {0}
    arguments = "".join(piece.function.arguments or "" for piece in pieces)
    assert json.loads(arguments) == {"a": 3, "b": 4}


def test_parse_with_a_pydantic_model(sdk):
    completion = sdk.chat.completions.parse(
        model="llama-3.3-70b",
        messages=[{"role": "user", "content": "A colour named 'teal' with 5 shades."}],
        response_format=Colour,
    )
    assert completion.choices[0].message.parsed == Colour(name="teal", shades=5)


def test_json_object_answers_with_one_object(sdk):
    completion = sdk.chat.completions.create(
        model="llama-3.3-70b",
        messages=[{"role": "user", "content": "plum"}],
        response_format={"type": "json_object"},
    )
    assert json.loads(completion.choices[0].message.content) == {"echo": "plum"}


def test_stop_sequences_cut_the_reply(sdk):
    completion = sdk.chat.completions.create(
        model="llama-3.3-70b", messages=[{"role": "user", "content": "cut"}], stop=[" | model"]
    )
    assert completion.choices[0].message.content == "Echo: cut"
    assert completion.choices[0].finish_reason == "stop"


def test_models_list_and_retrieve(sdk):
    ids = [model.id for model in sdk.models.list()]
    assert LLAMA in ids
    assert "@cf/acme/sparrow-9b-instruct-awq" in ids  # from the live catalog
    assert sdk.models.retrieve(LLAMA).id == LLAMA
    assert sdk.models.retrieve("llama-3.3-70b").id == LLAMA  # an alias
    with pytest.raises(openai.NotFoundError):
        sdk.models.retrieve("no-such-model")


@pytest.mark.parametrize(
    ("arguments", "param"),
    [
        ({"model": "llama-3.3-70bb"}, "model"),
        ({"n": 2}, "n"),
        ({"logprobs": True}, "logprobs"),
        ({"extra_body": {"frobnicate": True}}, "frobnicate"),
        (
            {
                "messages": [
                    {
                        "role": "assistant",
                        "content": [
                            {"type": "image_url", "image_url": {"url": "data:image/png;base64,AA"}}
                        ],
                    }
                ]
            },
            "messages[0].content[0]",
        ),
    ],
    ids=["unknown model", "n", "logprobs", "unknown field", "image not from the user"],
)
def test_refusals_are_400s_that_name_the_field(sdk, upstream, arguments, param):
    request = {"model": "llama-3.3-70b", "messages": [{"role": "user", "content": "x"}]}
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(**{**request, **arguments})
    assert caught.value.status_code == 400
    assert caught.value.body["param"] == param
    assert upstream.inference_requests == []


def test_an_unknown_model_gets_the_closest_names(sdk):
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.chat.completions.create(
            model="llama-3.3-70bb", messages=[{"role": "user", "content": "x"}]
        )
    assert "Did you mean: llama-3.3-70b" in caught.value.message
    assert caught.value.code == "model_not_found"


def test_a_rate_limit_is_a_429_with_retry_after(sdk, upstream):
    # The server's client tries three times (two retries) before it gives up.
    upstream.push(*[Fault(status=429, retry_after="0")] * 3)
    with pytest.raises(openai.RateLimitError) as caught:
        sdk.chat.completions.create(
            model="llama-3.3-70b", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.response.headers["retry-after"] == "1"
    assert caught.value.body["type"] == "rate_limit_error"


@pytest.mark.parametrize(
    ("faults", "status"),
    [
        ([Fault(status=500)] * 3, 502),
        ([Fault(status=503)] * 3, 503),
        ([Fault(challenge=True)] * 4, 503),
    ],
    ids=["site failing", "site unavailable", "site refusing"],
)
def test_the_site_failing_is_a_5xx(sdk, upstream, faults, status):
    upstream.push(*faults)
    with pytest.raises(openai.InternalServerError) as caught:
        sdk.chat.completions.create(
            model="llama-3.3-70b", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == status
    assert "Traceback" not in caught.value.response.text


def test_a_site_that_does_not_answer_in_time_is_a_504(upstream):
    upstream.push(*[Fault(stall_before=30)] * 3)
    args = ("--base-url", upstream.url, "--wire-format", "http", "--timeout", "0.5")
    with (
        ServeProcess(*args, env={"CF_PLAYGROUND_BROWSER": "0"}) as served,
        openai.OpenAI(base_url=served.base_url, api_key="unused", max_retries=0) as sdk,
        pytest.raises(openai.InternalServerError) as caught,
    ):
        sdk.chat.completions.create(
            model="llama-3.3-70b", messages=[{"role": "user", "content": "x"}]
        )
    assert caught.value.status_code == 504


def test_a_wrong_key_is_a_401(upstream):
    args = ("--base-url", upstream.url, "--wire-format", "http")
    with ServeProcess(*args, env={"CF_PLAYGROUND_API_KEY": "sekrit-key-4f2a"}) as served:
        with (
            openai.OpenAI(base_url=served.base_url, api_key="wrong", max_retries=0) as sdk,
            pytest.raises(openai.AuthenticationError),
        ):
            sdk.models.list()
        with openai.OpenAI(
            base_url=served.base_url, api_key="sekrit-key-4f2a", max_retries=0
        ) as sdk:
            assert (
                sdk.chat.completions.create(
                    model="llama-3.3-70b", messages=[{"role": "user", "content": "hello"}]
                )
                .choices[0]
                .message.content.startswith("Echo: hello")
            )
    assert "sekrit-key-4f2a" not in served.text


def test_the_agents_server_through_the_sdk(served_agents):
    with openai.OpenAI(base_url=served_agents.base_url, api_key="x", max_retries=0) as sdk:
        completion = sdk.chat.completions.create(
            model="qwq-32b", messages=[{"role": "user", "content": "over the socket"}]
        )
        stream = sdk.chat.completions.create(
            model="llama-3.3-70b",
            messages=[{"role": "user", "content": "[long:5]"}],
            stream=True,
        )
        text = "".join(c.choices[0].delta.content or "" for c in stream if c.choices)
    message = completion.choices[0].message
    assert "last user: over the socket" in message.content
    assert message.model_extra["reasoning_content"].startswith("Let me think")
    assert text == "t0 t1 t2 t3 t4 "


def _image_message(url: str) -> list[dict]:
    return [
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "what is this?"},
                {"type": "image_url", "image_url": {"url": url}},
            ],
        }
    ]


def test_an_image_reaches_a_vision_model_byte_for_byte(served_agents):
    picture = png(3, 2, seed=7)
    url = "data:image/png;base64," + base64.b64encode(picture).decode()
    with openai.OpenAI(base_url=served_agents.base_url, api_key="x", max_retries=0) as sdk:
        reply = sdk.chat.completions.create(model=VISION_MODEL, messages=_image_message(url))
    # The scripted model's own report of the image it was handed, after the AI SDK's conversion.
    assert images_reported(reply.choices[0].message.content) == [reported(picture, "image/png")]


@pytest.mark.parametrize(
    ("model", "url", "code"),
    [
        ("llama-3.3-70b", "data:image/png;base64," + base64.b64encode(png()).decode(), None),
        (VISION_MODEL, "data:image/png;base64,iVBORw0KGgo=", "invalid_image"),  # cut short
        (VISION_MODEL, "data:image/tiff;base64,SUkqAA==", "invalid_image"),
    ],
    ids=["a model without vision", "a truncated PNG", "a TIFF"],
)
def test_an_image_the_model_cannot_take_is_a_400_saying_why(served_agents, model, url, code):
    with (
        openai.OpenAI(base_url=served_agents.base_url, api_key="x", max_retries=0) as sdk,
        pytest.raises(openai.BadRequestError) as caught,
    ):
        sdk.chat.completions.create(model=model, messages=_image_message(url))
    error = caught.value.body
    if code is None:  # the client's words name the models that do see images
        assert error["code"] == "model_without_vision"
        assert "llama-4-scout" in error["message"]
    else:
        assert error["code"] == code
        assert error["param"] == "messages"

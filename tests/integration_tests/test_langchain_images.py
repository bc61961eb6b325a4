"""``ChatCloudflarePlayground`` with images, against the real Agents SDK server: every block form
LangChain users write reaches the model byte for byte (the scripted model reports each image's
SHA-256), through invoke, stream and their async twins."""

from __future__ import annotations

import base64

import pytest
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import ImagePart, ImagesNotSupportedError
from tests.helpers import echo_fields
from tests.sample_images import (
    VISION_MODEL,
    ImageHost,
    gif,
    images_reported,
    jpeg,
    png,
    reported,
    webp,
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def llm(agents_server) -> ChatCloudflarePlayground:
    return ChatCloudflarePlayground(
        model="llama-4-scout", base_url=agents_server.url, wire_format="agents"
    )


def test_every_block_form_reaches_the_model(llm):
    shots = [png(seed=21), jpeg(seed=22), gif(seed=23), webp(seed=24), png(seed=25), jpeg(seed=26)]
    with ImageHost({"/shot.gif": (200, "image/gif", shots[2])}) as host:
        message = HumanMessage(
            content=[
                {"type": "text", "text": "Compare these."},
                {"type": "image", "base64": _b64(shots[0]), "mime_type": "image/png"},
                {
                    "type": "image_url",
                    "image_url": {"url": f"data:image/jpeg;base64,{_b64(shots[1])}"},
                },
                {"type": "image", "url": host.url("/shot.gif")},
                {
                    "type": "image",
                    "source_type": "base64",
                    "data": _b64(shots[3]),
                    "mime_type": "image/webp",
                },
                {"type": "image_url", "image_url": f"data:image/png;base64,{_b64(shots[4])}"},
                {"type": "image", "url": ImagePart.from_bytes(shots[5]).data_url()},
            ]
        )
        reply = llm.invoke([message])
    types = ["image/png", "image/jpeg", "image/gif", "image/webp", "image/png", "image/jpeg"]
    assert images_reported(reply.content) == [
        reported(d, t) for d, t in zip(shots, types, strict=True)
    ]
    assert echo_fields(reply.content)["last user"] == "Compare these."


async def test_stream_and_the_async_twins_carry_images_too(llm):
    picture = gif(seed=30)
    # (LangChain's own tracing of a stream wants a base64 block's mime_type; the client does not.)
    block = {"type": "image", "base64": _b64(picture), "mime_type": "image/gif"}
    message = HumanMessage(content=["What is it?", block])
    streamed = "".join(chunk.text for chunk in llm.stream([message]))
    async_streamed = "".join([chunk.text async for chunk in llm.astream([message])])
    invoked = (await llm.ainvoke([message])).content
    for text in (streamed, async_streamed, invoked):
        assert images_reported(text) == [reported(picture, "image/gif")]


def test_images_in_earlier_human_messages_stay_with_them(llm):
    first, second = png(seed=31), webp(seed=32)
    history = [
        HumanMessage(
            content=[
                {"type": "image", "base64": _b64(first), "mime_type": "image/png"},
                "This one?",
            ]
        ),
        AIMessage("A few pixels."),
        HumanMessage(
            content=[
                "And this?",
                {"type": "image", "base64": _b64(second), "mime_type": "image/webp"},
            ]
        ),
    ]
    reply = llm.invoke(history)
    assert images_reported(reply.content) == [
        reported(first, "image/png", 1),
        reported(second, "image/webp", 2),
    ]


def test_a_model_without_vision_gets_a_clear_error_langchain_can_catch(agents_server):
    llm = ChatCloudflarePlayground(base_url=agents_server.url, wire_format="agents")
    assert llm.profile["image_inputs"] is False
    assert ChatCloudflarePlayground(model=VISION_MODEL).profile["image_inputs"] is True
    message = HumanMessage(
        content=["x", {"type": "image", "base64": _b64(png()), "mime_type": "image/png"}]
    )
    with pytest.raises(
        ModelInvalidRequestError, match=r"takes no images.*use a vision model"
    ) as caught:
        llm.invoke([message])
    assert isinstance(caught.value, ImagesNotSupportedError)
    assert VISION_MODEL in caught.value.vision_models


def test_bad_images_and_images_in_tool_results_are_refused_clearly(llm):
    with pytest.raises(
        ModelInvalidRequestError, match=r"declared image/png but its bytes are image/gif"
    ):
        llm.invoke(
            [
                HumanMessage(
                    content=[{"type": "image", "base64": _b64(gif()), "mime_type": "image/png"}]
                )
            ]
        )
    with pytest.raises(ModelInvalidRequestError, match="no file store"):
        llm.invoke([HumanMessage(content=[{"type": "image", "file_id": "file-123"}])])
    call = AIMessage("", tool_calls=[{"id": "c1", "name": "snap", "args": {}}])
    picture = {"type": "image", "base64": _b64(png()), "mime_type": "image/png"}
    result = ToolMessage(content=[picture], tool_call_id="c1")
    with pytest.raises(
        ValueError, match=r"messages\[2\]\.content\[0\] is an image in a tool result"
    ):
        llm.invoke([HumanMessage("take a picture"), call, result])

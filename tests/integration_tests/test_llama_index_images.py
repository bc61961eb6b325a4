"""``CloudflarePlayground`` with ``ImageBlock`` s, against the real Agents SDK server: each image
reaches the model byte for byte (the scripted model reports each one's SHA-256)."""

from __future__ import annotations

import base64

import pytest
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, MessageRole, TextBlock
from llama_index.core.response_synthesizers import get_response_synthesizer
from llama_index.core.schema import ImageNode, NodeWithScore, TextNode

from llama_index_cloudflare_playground import CloudflarePlayground
from tests.helpers import echo_fields
from tests.sample_images import ImageHost, gif, images_reported, jpeg, png, reported, webp


@pytest.fixture
def llm(agents_server) -> CloudflarePlayground:
    return CloudflarePlayground(
        model="llama-4-scout", base_url=agents_server.url, wire_format="agents"
    )


def test_every_kind_of_image_block_reaches_the_model(llm, tmp_path):
    shots = [png(seed=41), jpeg(seed=42), gif(seed=43), webp(seed=44)]
    (tmp_path / "shot.jpg").write_bytes(shots[1])
    with ImageHost({"/shot.webp": (200, "image/webp", shots[3])}) as host:
        question = ChatMessage(
            role=MessageRole.USER,
            blocks=[
                TextBlock(text="What do these show?"),
                ImageBlock(image=shots[0]),  # bytes
                ImageBlock(path=tmp_path / "shot.jpg"),
                ImageBlock(url=f"data:image/gif;base64,{base64.b64encode(shots[2]).decode()}"),
                ImageBlock(url=host.url("/shot.webp")),  # fetched by the client
            ],
        )
        reply = llm.chat([question])
    types = ["image/png", "image/jpeg", "image/gif", "image/webp"]
    assert images_reported(reply.message.content) == [
        reported(data, media_type) for data, media_type in zip(shots, types, strict=True)
    ]
    assert echo_fields(reply.message.content)["last user"] == "What do these show?"


async def test_streams_and_async_carryimages_reported(llm):
    picture = png(seed=45)
    question = ChatMessage(role="user", blocks=[ImageBlock(image=picture), TextBlock(text="?")])
    expected = [reported(picture, "image/png")]
    assert images_reported(list(llm.stream_chat([question]))[-1].message.content) == expected
    assert images_reported((await llm.achat([question])).message.content) == expected
    last = None
    async for last in await llm.astream_chat([question]):  # noqa: B007 (the last is the whole)
        pass
    assert images_reported(last.message.content) == expected


def test_images_in_earlier_turns_stay_with_them(llm):
    first, second = gif(seed=46), jpeg(seed=47)
    history = [
        ChatMessage(role="user", blocks=[ImageBlock(image=first), TextBlock(text="one")]),
        ChatMessage(role="assistant", content="A dot."),
        ChatMessage(role="user", blocks=[TextBlock(text="two"), ImageBlock(image=second)]),
    ]
    reply = llm.chat(history)
    assert images_reported(reply.message.content) == [
        reported(first, "image/gif", 1),
        reported(second, "image/jpeg", 2),
    ]


def test_a_multi_modal_query_sends_the_retrievedimages_reported(llm, tmp_path):
    # As docs/images.md shows it: a response synthesizer with multimodal=True over retrieved
    # nodes, one of them an image.
    chart = png(16, 8, seed=48)
    (tmp_path / "chart.png").write_bytes(chart)
    synthesizer = get_response_synthesizer(llm=llm, multimodal=True)
    nodes = [
        NodeWithScore(node=TextNode(text="The chart shows sales per quarter."), score=1.0),
        NodeWithScore(node=ImageNode(image_path=str(tmp_path / "chart.png")), score=0.9),
    ]
    response = synthesizer.synthesize("Which quarter sold most?", nodes=nodes)
    assert images_reported(str(response)) == [reported(chart, "image/png")]


def test_takes_images_follows_the_catalog(agents_server):
    assert CloudflarePlayground(model="llama-4-scout", base_url=agents_server.url).takes_images
    assert CloudflarePlayground(model="@cf/google/gemma-4-26b-a4b-it").takes_images
    assert not CloudflarePlayground(base_url=agents_server.url).takes_images
    assert not CloudflarePlayground(model="@cf/acme/unknown").takes_images


def test_misplaced_and_bad_images_are_refused_clearly(llm, tmp_path):
    answer = ChatMessage(role="assistant", blocks=[ImageBlock(image=png())])
    with pytest.raises(ValueError, match="an image in a assistant message"):
        llm.chat(
            [
                ChatMessage(role="user", content="draw"),
                answer,
                ChatMessage(role="user", content="?"),
            ]
        )
    (tmp_path / "notes.png").write_text("not an image")
    with pytest.raises(ValueError, match=r"messages\[0\]\.blocks\[0\]: .*notes.png: the image"):
        llm.chat([ChatMessage(role="user", blocks=[ImageBlock(path=tmp_path / "notes.png")])])

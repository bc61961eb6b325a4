"""Images in the client's messages: the part, its checks, the content forms, the wire formats."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
from typing import TYPE_CHECKING

import pytest

from langchain_cloudflare_playground.client import (
    ImageError,
    ImageFetchError,
    ImagePart,
    ImagesNotSupportedError,
    Message,
    PlaygroundConnectionError,
)
from langchain_cloudflare_playground.client.drivers.agents_driver import _conversation_key
from langchain_cloudflare_playground.client.drivers.base import Route
from langchain_cloudflare_playground.client.drivers.http_driver import HttpDriver
from langchain_cloudflare_playground.client.images import (
    MAX_IMAGE_BYTES,
    fetch_images,
    image_of_part,
)
from langchain_cloudflare_playground.client.messages import normalize_messages
from langchain_cloudflare_playground.client.model_directory import ModelDirectory
from langchain_cloudflare_playground.client.models import ModelInfo
from langchain_cloudflare_playground.client.transports.base import HttpResponse
from langchain_cloudflare_playground.client.wire_formats import ChatRequest
from langchain_cloudflare_playground.client.wire_formats.agents_frames import chat_frame
from tests.sample_images import VISION_MODEL, gif, jpeg, png, webp

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from langchain_cloudflare_playground.client.transports.base import HttpRequest

SAMPLES = {"image/png": png(), "image/jpeg": jpeg(), "image/gif": gif(), "image/webp": webp()}


# -- the part and its checks -----------------------------------------------------------------


@pytest.mark.parametrize(("media_type", "data"), SAMPLES.items())
def test_the_media_type_is_read_from_the_bytes(media_type, data):
    image = ImagePart.from_bytes(data)
    assert image.media_type == media_type
    assert image.data == data
    assert image.sha256 == hashlib.sha256(data).hexdigest()
    assert image.data_url() == f"data:{media_type};base64,{base64.b64encode(data).decode()}"


def test_a_declared_type_is_normalised_and_must_agree_with_the_bytes():
    assert ImagePart.from_bytes(jpeg(), "image/JPG; q=1").media_type == "image/jpeg"
    with pytest.raises(ImageError, match=r"declared image/png but its bytes are image/jpeg"):
        ImagePart.from_bytes(jpeg(), "image/png")


def test_other_types_are_refused_with_the_ones_to_use():
    with pytest.raises(ImageError, match=r"not PNG, JPEG, WebP or GIF.*convert it"):
        ImagePart.from_bytes(b"BM\x3a\x00\x00\x00" + b"\x00" * 40)  # a BMP
    with pytest.raises(ImageError, match=r"'image/bmp' is not one.*image/png, image/jpeg"):
        ImagePart.from_bytes(png(), "image/bmp")


def test_empty_and_cut_short_images_are_refused():
    with pytest.raises(ImageError, match=r"empty \(0 bytes\)"):
        ImagePart.from_bytes(b"")
    for data in SAMPLES.values():
        with pytest.raises(ImageError, match="cut short; send the whole file"):
            ImagePart.from_bytes(data[: len(data) - 3])


def test_the_size_limit_is_five_mib_of_decoded_bytes():
    assert MAX_IMAGE_BYTES == 5 * 1024 * 1024
    padded = png() + b"\x00" * (MAX_IMAGE_BYTES - len(png()))
    assert ImagePart.from_bytes(padded).media_type == "image/png"  # exactly the limit: taken
    with pytest.raises(ImageError, match=r"5,242,881 bytes; the limit is 5 MiB"):
        ImagePart.from_bytes(padded + b"\x00")
    # Base64 of an image over the limit is refused before it is decoded.
    with pytest.raises(ImageError, match="the limit is 5 MiB"):
        ImagePart.from_base64("A" * (MAX_IMAGE_BYTES // 3 * 4 + 100))


def test_repr_shows_no_bytes():
    image = ImagePart.from_bytes(png())
    assert repr(image).startswith("ImagePart(image/png, ")
    assert "\\x89" not in repr(image)


def test_from_path(tmp_path):
    path = tmp_path / "photo.gif"
    path.write_bytes(gif())
    assert ImagePart.from_path(path).media_type == "image/gif"
    assert ImagePart.from_source(str(path)) == ImagePart.from_path(path)
    with pytest.raises(ImageError, match=r"cannot read the image file .*missing\.png"):
        ImagePart.from_path(tmp_path / "missing.png")
    with pytest.raises(ImageError, match="is a folder"):
        ImagePart.from_path(tmp_path)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ImageError, match=r"notes.txt: the image .* is not PNG"):
        ImagePart.from_path(tmp_path / "notes.txt")


def test_a_file_over_the_limit_is_refused_by_its_size(tmp_path):
    path = tmp_path / "huge.png"
    with path.open("wb") as file:
        file.write(png())
    os.truncate(path, MAX_IMAGE_BYTES + 1)  # sparse: nothing to read but its size
    with pytest.raises(ImageError, match=r"the image file .*huge.png is 5,242,881 bytes"):
        ImagePart.from_path(path)


def test_from_base64():
    data = webp(seed=3)
    text = base64.b64encode(data).decode()
    assert ImagePart.from_base64(text).data == data
    spaced = "\n".join(text[i : i + 8] for i in range(0, len(text), 8))
    assert ImagePart.from_base64(spaced).data == data
    assert ImagePart.from_base64(base64.urlsafe_b64encode(data).rstrip(b"=")).data == data
    with pytest.raises(ImageError, match=r"not valid base64 \(it starts 'data:image"):
        ImagePart.from_base64("data:image/png;base64,iVBOR")


def test_data_urls():
    data = png(seed=9)
    url = f"data:image/png;base64,{base64.b64encode(data).decode()}"
    assert ImagePart.from_url(url).data == data
    assert ImagePart.from_source(url).data == data
    with pytest.raises(ImageError, match="data URL says image/png but the image is declared"):
        ImagePart.from_url(url, "image/gif")
    with pytest.raises(ImageError, match="has no ','"):
        ImagePart.from_url("data:image/png;base64")
    percent = "data:image/gif," + "".join(f"%{b:02x}" for b in gif())
    assert ImagePart.from_url(percent).data == gif()


def test_http_urls_wait_to_be_fetched_and_other_schemes_are_refused():
    image = ImagePart.from_source("https://example.com/cat.png")
    assert image.url == "https://example.com/cat.png"
    assert not image.fetched
    with pytest.raises(ImageError, match="has not been fetched yet"):
        image.data_url()
    with pytest.raises(ImageError, match="not a data: or http"):
        ImagePart.from_url("ftp://example.com/cat.png")
    with pytest.raises(ImageError, match="not an http"):
        ImagePart(url="https://")
    with pytest.raises(ImageError, match="not both"):
        ImagePart(png(), url="https://example.com/a.png")


def test_a_windows_drive_is_a_path_not_a_scheme():
    with pytest.raises(ImageError, match="cannot read the image file"):
        ImagePart.from_source("C:\\photos\\cat.png")


# -- content parts -------------------------------------------------------------------------

PNG_B64 = base64.b64encode(png()).decode()
PNG_URL = f"data:image/png;base64,{PNG_B64}"


@pytest.mark.parametrize(
    "part",
    [
        {"type": "image_url", "image_url": {"url": PNG_URL}},
        {"type": "image_url", "image_url": {"url": PNG_URL, "detail": "high"}},
        {"type": "image_url", "image_url": PNG_URL},
        {"type": "input_image", "image_url": PNG_URL},
        {"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
        {"type": "image", "base64": PNG_B64},
        {"type": "image", "url": PNG_URL},
        {"type": "image", "source_type": "base64", "data": PNG_B64, "mime_type": "image/png"},
        {"type": "image", "source_type": "url", "url": PNG_URL},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG_B64}},
        ImagePart.from_bytes(png()),
    ],
)
def test_every_form_of_image_part_is_read(part):
    image = image_of_part(part)
    assert image == ImagePart.from_bytes(png())


def test_http_image_parts_keep_their_url():
    for part in (
        {"type": "image", "url": "https://example.com/a.png", "mime_type": "image/png"},
        {"type": "image_url", "image_url": {"url": "https://example.com/a.png"}},
    ):
        assert image_of_part(part).url == "https://example.com/a.png"


def test_stored_file_references_cannot_be_sent():
    for part in (
        {"type": "image", "file_id": "file-abc"},
        {"type": "image", "source_type": "id", "id": "file-abc"},
        {"type": "input_image", "file_id": "file-abc"},
    ):
        with pytest.raises(ImageError, match="no file store: pass the image's base64"):
            image_of_part(part)


def test_parts_that_are_no_images_are_not_read_as_images():
    assert image_of_part({"type": "text", "text": "x"}) is None
    assert image_of_part({"type": "input_audio"}) is None
    assert image_of_part("text") is None


def test_user_messages_carry_their_images_history_included():
    first, second = ImagePart.from_bytes(png(seed=1)), ImagePart.from_bytes(gif(seed=2))
    conversation = normalize_messages(
        [
            {"role": "user", "content": [{"type": "text", "text": "one"}, first]},
            {"role": "assistant", "content": "seen"},
            {
                "role": "human",
                "content": [{"type": "image_url", "image_url": second.data_url()}, "two"],
            },
        ]
    )
    user_one, _, user_two = conversation.turns
    assert (user_one.content, user_one.images) == ("one", (first,))
    assert (user_two.content, user_two.images) == ("two", (second,))
    assert conversation.images == (first, second)


@pytest.mark.parametrize("role", ["system", "assistant"])
def test_images_outside_user_messages_are_refused(role):
    with pytest.raises(ImageError, match=rf"content\[0\] is an image in a {role} message.*user"):
        normalize_messages(
            [
                {"role": role, "content": [ImagePart.from_bytes(png())]},
                {"role": "user", "content": "x"},
            ]
        )
    with pytest.raises(ImageError, match="user messages only"):
        normalize_messages([Message(role, "x", images=(ImagePart.from_bytes(png()),))])


def test_an_image_in_a_tool_result_is_refused():
    with pytest.raises(ImageError, match="an image in a tool result"):
        normalize_messages(
            [
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "content": "",
                    "tool_calls": [{"id": "1", "name": "f", "arguments": {}}],
                },
                {"role": "tool", "tool_call_id": "1", "content": [ImagePart.from_bytes(png())]},
            ]
        )


def test_a_bad_image_is_named_by_its_place():
    with pytest.raises(ImageError, match=r"messages\[1\]\.content\[0\]: the image is empty"):
        normalize_messages(
            [
                {"role": "user", "content": "a"},
                {"role": "user", "content": [{"type": "image", "base64": ""}]},
            ]
        )


# -- the wire formats ----------------------------------------------------------------------


def _request(conversation_input, model=VISION_MODEL) -> ChatRequest:
    return ChatRequest(normalize_messages(conversation_input), model, 2048, None)


def test_the_agents_frame_sends_images_as_file_parts_before_the_text():
    image = ImagePart.from_bytes(jpeg(seed=4))
    request = _request([{"role": "user", "content": ["what is this?", image]}])
    body = json.loads(json.loads(chat_frame(request.conversation))["init"]["body"])
    assert body["messages"][0]["parts"] == [
        {"type": "file", "mediaType": "image/jpeg", "url": image.data_url()},
        {"type": "text", "text": "what is this?"},
    ]
    text_only = json.loads(json.loads(chat_frame(_request("hi").conversation))["init"]["body"])
    assert text_only["messages"][0]["parts"] == [{"type": "text", "text": "hi"}]


def test_the_recorded_conversation_key_changes_with_an_image_not_with_its_bytes():
    def key(data: bytes) -> dict[str, object]:
        return _conversation_key(
            _request([{"role": "user", "content": ["look", ImagePart.from_bytes(data)]}])
        )

    assert key(png(seed=1)) == key(png(seed=1))
    assert key(png(seed=1)) != key(png(seed=2))
    digest = hashlib.sha256(png(seed=1)).hexdigest()
    assert key(png(seed=1))["messages"] == [["user", "look", [f"image/png sha256:{digest}"]]]
    assert base64.b64encode(png(seed=1)).decode() not in json.dumps(key(png(seed=1)))
    # Conversations without images keep the keys their recordings were made with.
    assert _conversation_key(_request("hi"))["messages"] == [["user", "hi"]]


class _Transport:
    """Answers each GET from a table; records what it was asked."""

    def __init__(self, answers: dict[str, tuple[int, dict[str, str], bytes]] | None = None) -> None:
        self.answers = answers or {}
        self.requests: list[HttpRequest] = []

    @contextlib.asynccontextmanager
    async def stream(self, request: HttpRequest) -> AsyncIterator[HttpResponse]:
        self.requests.append(request)
        if request.url not in self.answers:
            msg = f"cannot connect to {request.url}"
            raise PlaygroundConnectionError(msg)
        status, headers, body = self.answers[request.url]

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 65536):
                yield body[start : start + 65536]

        yield HttpResponse(status, list(headers.items()), chunks())

    async def open_websocket(self, request):
        raise AssertionError("no WebSocket expected")

    async def aclose(self) -> None:
        pass


async def test_the_http_wire_formats_refuse_images_before_sending_anything():
    transport = _Transport()
    route = Route("http://127.0.0.1:9", transport, None)
    request = _request([{"role": "user", "content": ["a", ImagePart.from_bytes(png())]}])
    with pytest.raises(ImagesNotSupportedError, match=r"HTTP wire formats .* had no image input"):
        async for _ in HttpDriver().stream(route, request):
            pass
    assert transport.requests == []


# -- which models take images ----------------------------------------------------------------


async def _no_fetch() -> list[ModelInfo]:
    raise AssertionError("the check must not fetch the list")


def test_a_model_the_catalog_knows_without_vision_is_refused_naming_the_vision_models():
    directory = ModelDirectory(_no_fetch, ttl=60, where="test")
    directory.check_takes_images(VISION_MODEL)
    with pytest.raises(ImagesNotSupportedError) as caught:
        directory.check_takes_images("@cf/meta/llama-3.3-70b-instruct-fp8-fast")
    assert "llama-4-scout (@cf/meta/llama-4-scout-17b-16e-instruct)" in str(caught.value)
    assert VISION_MODEL in caught.value.vision_models
    assert "@cf/google/gemma-4-26b-a4b-it" in caught.value.vision_models
    directory.check_takes_images("@cf/acme/brand-new-model")  # unknown: the server decides


async def test_the_live_list_when_cached_wins_over_the_built_in_table():
    live = [
        ModelInfo(
            "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
            "llama-3.3-70b",
            properties={"vision": "true"},
        ),
        ModelInfo(VISION_MODEL, "llama-4-scout"),
    ]

    async def fetch() -> list[ModelInfo]:
        return live

    directory = ModelDirectory(fetch, ttl=60, where="test")
    await directory.alist()
    directory.check_takes_images("@cf/meta/llama-3.3-70b-instruct-fp8-fast")
    with pytest.raises(ImagesNotSupportedError, match=r"use a vision model: llama-3.3-70b"):
        directory.check_takes_images(VISION_MODEL)


# -- fetching http(s) images -----------------------------------------------------------------


async def test_http_images_are_fetched_once_checked_and_without_the_session():
    url = "https://images.example/cat.gif"
    transport = _Transport({url: (200, {"Content-Type": "image/gif"}, gif(seed=5))})
    wanted = [ImagePart.from_url(url), ImagePart.from_url(url)]
    fetched = await fetch_images(wanted, transport)
    assert fetched == {url: ImagePart.from_bytes(gif(seed=5))}
    assert len(transport.requests) == 1
    assert "Cookie" not in transport.requests[0].headers
    conversation = normalize_messages([{"role": "user", "content": ["a", *wanted]}])
    assert conversation.with_images(fetched).images == (fetched[url], fetched[url])


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        ((404, {}, b"not here"), r"https://img.example/x: the server answered HTTP 404"),
        (
            (200, {"Content-Length": str(MAX_IMAGE_BYTES + 1)}, png()),
            "is 5,242,881 bytes; the limit",
        ),
        ((200, {}, png() + b"\x00" * MAX_IMAGE_BYTES), "is more than 5,242,880 bytes"),
        ((200, {"Content-Type": "text/html"}, b"<html>hi</html>"), r"not PNG.*called it text/html"),
        ((200, {}, png()[:-4]), "cut short"),
    ],
)
async def test_an_image_that_cannot_be_fetched_or_sent_says_why(answer, error):
    transport = _Transport({"https://img.example/x": answer})
    with pytest.raises(ImageFetchError, match=error) as caught:
        await fetch_images([ImagePart.from_url("https://img.example/x")], transport)
    assert caught.value.url == "https://img.example/x"
    assert "download the image and pass its bytes" in str(caught.value)


async def test_a_connection_failure_is_an_image_fetch_error():
    with pytest.raises(ImageFetchError, match=r"cannot connect to https://gone\.example/a\.png"):
        await fetch_images([ImagePart.from_url("https://gone.example/a.png")], _Transport())


async def test_a_declared_type_of_an_http_image_is_checked_against_what_came():
    url = "https://img.example/y"
    transport = _Transport({url: (200, {}, jpeg())})
    with pytest.raises(ImageFetchError, match="declared image/png but its bytes are image/jpeg"):
        await fetch_images([ImagePart.from_url(url, "image/png")], transport)

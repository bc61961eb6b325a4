"""Images reach the model: the client against the real Agents SDK server, whose scripted model
reports each image the AI SDK handed it (media type, size, SHA-256) in its echo."""

from __future__ import annotations

import pytest

from langchain_cloudflare_playground.client import (
    AiohttpTransport,
    ImageFetchError,
    ImagePart,
    ImagesNotSupportedError,
    NotFoundError,
    PlaygroundClient,
)
from langchain_cloudflare_playground.client.images import MAX_IMAGE_BYTES
from tests.helpers import echo_fields
from tests.reference_server import free_port
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


@pytest.fixture
async def ws_client(agents_server):
    async with PlaygroundClient(
        agents_server.url, wire_format="agents", model=VISION_MODEL, timeout=10
    ) as client:
        yield client


async def test_each_type_reaches_the_model_byte_for_byte(ws_client):
    samples = [(png(seed=1), "image/png"), (jpeg(seed=2), "image/jpeg"), (gif(seed=3), "image/gif")]
    samples.append((webp(seed=4), "image/webp"))
    content: list[object] = [{"type": "text", "text": "what are these?"}]
    content += [ImagePart.from_bytes(data) for data, _ in samples]
    reply = await ws_client.achat([{"role": "user", "content": content}])
    assert images_reported(reply.text) == [
        reported(data, media_type) for data, media_type in samples
    ]
    assert echo_fields(reply.text)["last user"] == "what are these?"


async def test_images_in_earlier_turns_stay_with_their_turns(ws_client):
    first, second = png(seed=10, width=5), jpeg(seed=11)
    history = [
        {"role": "system", "content": "Look closely."},
        {"role": "user", "content": [{"type": "image", "base64": _b64(first)}, "first"]},
        {"role": "assistant", "content": "A small picture."},
        {"role": "user", "content": "no picture here"},
        {"role": "assistant", "content": "Noted."},
        {
            "role": "user",
            "content": ["and this?", {"type": "image_url", "image_url": {"url": _data(second)}}],
        },
    ]
    reply = await ws_client.achat(history)
    fields = echo_fields(reply.text)
    assert fields["roles"] == "user,assistant,user,assistant,user"
    assert images_reported(reply.text) == [
        reported(first, "image/png", 1),
        reported(second, "image/jpeg", 3),
    ]


async def test_images_at_the_size_limit_reach_the_model(ws_client):
    # Two 5 MiB images in one request: a 14 MB chat frame, stored by the room across rows.
    big = png() + b"\x00" * (MAX_IMAGE_BYTES - len(png()))
    other = big[:-1] + b"\x01"
    history = [
        {"role": "user", "content": ["big", ImagePart.from_bytes(big)]},
        {"role": "assistant", "content": "ok"},
        {"role": "user", "content": ["again", ImagePart.from_bytes(other)]},
    ]
    reply = await ws_client.achat(history)
    assert images_reported(reply.text) == [
        reported(big, "image/png", 1),
        reported(other, "image/png", 2),
    ]


def test_the_sync_twin_sends_images_too(agents_server):
    with PlaygroundClient(agents_server.url, wire_format="agents", timeout=10) as client:
        reply = client.chat(
            [{"role": "user", "content": ["x", ImagePart.from_bytes(gif(seed=7))]}],
            model="gemma-4-26b",
        )
    assert images_reported(reply.text) == [reported(gif(seed=7), "image/gif")]


async def test_an_http_image_is_fetched_by_the_client_and_reaches_the_model(agents_server):
    photo = webp(seed=12)
    with ImageHost({"/photo.webp": (200, "image/webp", photo)}) as host:
        async with PlaygroundClient(
            agents_server.url, wire_format="agents", cookies={"site": "playground-only"}
        ) as client:
            url = host.url("/photo.webp")
            reply = await client.achat(
                [{"role": "user", "content": ["see", {"type": "image", "url": url}]}],
                model=VISION_MODEL,
            )
    assert images_reported(reply.text) == [reported(photo, "image/webp")]
    ((path, headers),) = host.requests  # fetched once, by the client
    assert path == "/photo.webp"
    assert "site" not in headers.get("Cookie", "")  # the playground's session stays there


async def test_an_http_image_is_fetched_through_the_clients_proxy(agents_server, tinyproxy):
    proxy_url, log = tinyproxy
    with ImageHost({"/photo.png": (200, "image/png", png())}) as host:
        async with PlaygroundClient(
            agents_server.url, wire_format="agents", proxy=proxy_url, max_retries=0
        ) as client:
            # tinyproxy does not carry WebSocket upgrades, so the chat itself then fails there;
            # what counts is the way the image came.
            with pytest.raises(NotFoundError):
                await client.achat(
                    [{"role": "user", "content": [ImagePart.from_url(host.url("/photo.png"))]}],
                    model=VISION_MODEL,
                )
    ((_, headers),) = host.requests
    assert "tinyproxy" in headers.get("Via", "")
    assert host.url("/photo.png") in log.read_text()


async def test_a_dead_proxy_stops_the_image_fetch_naming_the_proxy(agents_server):
    dead = f"http://127.0.0.1:{free_port()}"
    async with PlaygroundClient(agents_server.url, wire_format="agents", proxy=dead) as client:
        with pytest.raises(ImageFetchError, match=r"could not fetch the image at .*proxy"):
            await client.achat(
                [{"role": "user", "content": [ImagePart.from_url("http://images.example/a.png")]}],
                model=VISION_MODEL,
            )


async def test_an_http_image_that_cannot_be_fetched_stops_the_call_before_it_is_sent(agents_server):
    counting = _CountingTransport()
    with ImageHost({"/page.html": (200, "text/html", b"<html>no image</html>")}) as host:
        async with PlaygroundClient(
            agents_server.url, wire_format="agents", transport=counting
        ) as client:
            for path, error in (
                ("/missing.png", "answered HTTP 404"),
                ("/page.html", "called it text/html"),
            ):
                with pytest.raises(ImageFetchError, match=error):
                    await client.achat(
                        [{"role": "user", "content": [ImagePart.from_url(host.url(path))]}],
                        model=VISION_MODEL,
                    )
    assert counting.websockets == 0


async def test_a_model_without_vision_gets_a_clear_error_and_nothing_is_sent(agents_server):
    counting = _CountingTransport()
    async with PlaygroundClient(agents_server.url, transport=counting) as client:
        with pytest.raises(
            ImagesNotSupportedError, match=r"llama-3\.3-70b.* takes no images.*llama-4-scout"
        ):
            await client.achat([{"role": "user", "content": ["x", ImagePart.from_bytes(png())]}])
    assert counting.websockets == 0


async def test_the_http_wire_formats_refuse_images_and_send_nothing(server):
    async with PlaygroundClient(server.url, wire_format="http", model=VISION_MODEL) as client:
        with pytest.raises(ImagesNotSupportedError, match="HTTP wire formats"):
            await client.achat([{"role": "user", "content": ["x", ImagePart.from_bytes(png())]}])
        assert (await client.achat("text still works", model=VISION_MODEL)).text
    assert len(server.inference_requests) == 1


class _CountingTransport(AiohttpTransport):
    """Aiohttp, counting the WebSockets it opens."""

    websockets = 0

    async def open_websocket(self, request):
        self.websockets += 1
        return await super().open_websocket(request)


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


def _data(data: bytes) -> str:
    return ImagePart.from_bytes(data).data_url()

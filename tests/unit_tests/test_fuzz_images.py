"""Property tests for the image path: odd input gives a clear ``ImageError``, nothing else.

Whatever bytes, base64, data URL, content part or HTTP answer comes in, the client either makes
an image it can stand by (one of the four types, its magic number agreeing, within the limit) or
raises :class:`ImageError` (a ``ValueError``) saying what to do; never a ``KeyError``, a
``binascii.Error`` or a half-checked image.
"""

from __future__ import annotations

import base64
import contextlib
from typing import TYPE_CHECKING, TypeVar

import pytest
from hypothesis import given
from hypothesis import strategies as st

from langchain_cloudflare_playground.client import (
    ImageError,
    ImageFetchError,
    ImagePart,
    PlaygroundConnectionError,
)
from langchain_cloudflare_playground.client.images import (
    IMAGE_MEDIA_TYPES,
    MAX_IMAGE_BYTES,
    fetch_images,
    image_of_part,
)
from langchain_cloudflare_playground.client.messages import normalize_messages
from langchain_cloudflare_playground.client.transports.base import HttpResponse
from tests.sample_images import gif, jpeg, png, webp
from tests.strategies import FUZZ, SHORT

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable

    from langchain_cloudflare_playground.client.transports.base import HttpRequest

_T = TypeVar("_T")
SAMPLES = [png(), jpeg(), gif(), webp()]
MAGIC = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff",
    "image/gif": b"GIF8",
    "image/webp": b"RIFF",
}

# Bytes that start like an image more often than chance would have them.
image_like = st.one_of(
    st.binary(max_size=64),
    st.builds(
        lambda head, body: head + body,
        st.sampled_from([*MAGIC.values(), b"RIFF\x00\x00\x00\x00WEBP", b"GIF89a"]),
        st.binary(max_size=64),
    ),
    st.builds(
        lambda sample, cut: sample[:cut],
        st.sampled_from(SAMPLES),
        st.integers(min_value=0, max_value=120),
    ),
)
media_types = st.one_of(
    st.none(),
    st.sampled_from([*IMAGE_MEDIA_TYPES, "image/jpg", "IMAGE/PNG; x=1", "image/bmp", "", "png"]),
    st.text(max_size=20),
)


def _made(make: Callable[[], _T], error: type[Exception] = ImageError) -> _T | None:
    """What ``make`` made, or ``None`` when it raised ``error`` (with a message, and no other)."""
    try:
        return make()
    except error as exc:
        message = str(exc)
    assert message
    return None


def _checked(image: ImagePart) -> None:
    """What every image the client makes holds to."""
    assert image.media_type in IMAGE_MEDIA_TYPES
    assert image.data.startswith(MAGIC[image.media_type])
    assert 0 < len(image.data) <= MAX_IMAGE_BYTES


@FUZZ
@given(image_like, media_types)
def test_any_bytes_make_a_checked_image_or_a_clear_error(data, media_type):
    image = _made(lambda: ImagePart.from_bytes(data, media_type))
    if image is not None:
        _checked(image)


@pytest.mark.parametrize("sample", SAMPLES, ids=["png", "jpeg", "gif", "webp"])
def test_every_cut_of_an_image_is_refused_or_still_whole(sample):
    for cut in range(len(sample)):
        try:
            image = ImagePart.from_bytes(sample[:cut])
        except ImageError:
            continue
        # Only a cut that leaves the format's end marker in place may pass (JPEG, GIF).
        _checked(image)
        assert image.media_type != "image/png"


@pytest.mark.parametrize(
    "size", [MAX_IMAGE_BYTES - 1, MAX_IMAGE_BYTES, MAX_IMAGE_BYTES + 1, 3 * MAX_IMAGE_BYTES]
)
def test_huge_images_are_refused_by_size_whatever_their_form(size):
    data = png() + b"\x00" * (size - len(png()))
    forms = [
        lambda: ImagePart.from_bytes(data),
        lambda: ImagePart.from_base64(base64.b64encode(data)),
        lambda: ImagePart.from_url("data:image/png;base64," + base64.b64encode(data).decode()),
    ]
    for form in forms:
        if size <= MAX_IMAGE_BYTES:
            _checked(form())
        else:
            with pytest.raises(ImageError, match="the limit is 5 MiB"):
                form()


@FUZZ
@given(st.one_of(st.text(max_size=80), st.binary(max_size=80)), media_types)
def test_any_base64_text_makes_a_checked_image_or_a_clear_error(text, media_type):
    image = _made(lambda: ImagePart.from_base64(text, media_type))
    if image is not None:
        _checked(image)


@FUZZ
@given(st.text(max_size=80), image_like)
def test_any_url_makes_an_image_to_fetch_a_checked_image_or_a_clear_error(header, data):
    for url in (
        f"data:{header}",
        f"data:{header},{base64.b64encode(data).decode()}",
        f"data:{header};base64,{base64.b64encode(data).decode()}",
        header,
        f"https://{header}",
    ):
        image = _made(lambda url=url: ImagePart.from_url(url))
        if image is not None and image.url is not None:
            assert image.url.startswith(("http://", "https://"))
            assert not image.data
        elif image is not None:
            _checked(image)


# Content parts as users and frameworks write them, with any value in any field.
odd_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.sampled_from(["url", "type", "data"]), st.text(max_size=10), max_size=2),
    st.sampled_from([base64.b64encode(png()).decode(), "https://example.com/a.png"]),
)
parts = st.fixed_dictionaries(
    {"type": st.sampled_from(["image", "image_url", "input_image", "text", "file", "audio"])},
    optional=dict.fromkeys(
        (
            "base64",
            "url",
            "image_url",
            "mime_type",
            "source_type",
            "data",
            "file_id",
            "id",
            "source",
            "text",
        ),
        odd_values,
    ),
)


@FUZZ
@given(parts)
def test_any_content_part_is_read_or_refused_clearly(part):
    image = _made(lambda: image_of_part(part))
    if image is not None and image.url is None:
        _checked(image)


@SHORT
@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "role": st.sampled_from(["user", "assistant", "system", "human"]),
                "content": st.one_of(
                    st.text(max_size=10), st.lists(parts | st.text(max_size=5), max_size=3)
                ),
            }
        ),
        min_size=1,
        max_size=4,
    )
)
def test_any_messages_with_images_normalise_or_fail_with_a_value_error(messages):
    conversation = _made(lambda: normalize_messages(messages), ValueError)  # ImageError is one
    for turn in conversation.turns if conversation is not None else ():
        assert not turn.images or turn.role == "user"


class _Answers:
    """A transport whose one answer is given; it records nothing else."""

    def __init__(self, status: int, headers: list[tuple[str, str]], body: bytes | None) -> None:
        self.answer = (status, headers, body)

    @contextlib.asynccontextmanager
    async def stream(self, request: HttpRequest) -> AsyncIterator[HttpResponse]:
        status, headers, body = self.answer
        if body is None:
            msg = "connection reset"
            raise PlaygroundConnectionError(msg)

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(body), 7):
                yield body[start : start + 7]

        yield HttpResponse(status, headers, chunks())

    async def open_websocket(self, request):
        raise AssertionError

    async def aclose(self) -> None:
        pass


@SHORT
@given(
    st.sampled_from([200, 200, 200, 204, 301, 403, 404, 500]),
    st.lists(
        st.tuples(
            st.sampled_from(["Content-Type", "Content-Length", "X-Other"]),
            st.one_of(st.text(max_size=12), st.integers(0, 10**9).map(str)),
        ),
        max_size=3,
    ),
    st.one_of(st.none(), image_like),
    media_types,
)
async def test_any_http_answer_is_an_image_or_a_fetch_error(status, headers, body, media_type):
    url = "https://images.example/a"
    try:
        wanted = ImagePart.from_url(url, media_type)
    except ImageError:
        return  # a declared type no model takes: refused before anything is fetched
    try:
        fetched = await fetch_images([wanted], _Answers(status, headers, body))
    except ImageFetchError as exc:
        failure = exc
    else:
        _checked(fetched[url])
        return
    assert failure.url == url
    assert str(failure).startswith(f"could not fetch the image at {url}: ")

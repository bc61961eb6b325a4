"""Images in user turns: the typed part, the checks it passes, how an ``http(s)`` one is fetched.

An :class:`ImagePart` holds an image's bytes and media type, checked when it is made: PNG, JPEG,
WebP or GIF (told from the bytes' magic numbers; a declared type that disagrees is an error),
not empty, not cut short, at most :data:`MAX_IMAGE_BYTES`. One made from an ``http(s)`` URL
holds only the URL until the client fetches it (:func:`fetch_images`), over the client's own
transport, proxy and timeouts, with the same checks: the server never sees the URL, so it need
not reach it (the AI SDK on the server refuses private addresses) and nothing unchecked is sent.

Where the limits come from (``docs/images.md`` has the sources): the AI SDK passes any
``image/*`` file part on, and the Workers AI provider turns it into an ``image_url`` data URL for
the model without checking the type or the size; the four types are the ones vision models
commonly decode (OpenAI's image input takes the same four). 5 MiB is this client's own limit,
well inside the Agents SDK's WebSocket frame (32 MiB, received by a Durable Object).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote_to_bytes, urlsplit

from langchain_cloudflare_playground.client.errors import (
    ImageError,
    ImageFetchError,
    PlaygroundError,
)
from langchain_cloudflare_playground.client.transports.base import HttpRequest

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable

    from langchain_cloudflare_playground.client.transports.base import HttpResponse, Transport

__all__ = [
    "IMAGE_MEDIA_TYPES",
    "MAX_IMAGE_BYTES",
    "ImagePart",
    "fetch_images",
    "image_of_part",
]

MAX_IMAGE_BYTES = 5 * 1024 * 1024
"""The largest image the client sends, in bytes (decoded, not base64)."""

IMAGE_MEDIA_TYPES = ("image/png", "image/jpeg", "image/webp", "image/gif")
"""The media types the client sends."""

_SYNONYMS = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/x-png": "image/png"}
_SCHEME = re.compile(r"^([a-zA-Z][a-zA-Z0-9+.-]*):")
_ACCEPT = "image/png,image/jpeg,image/webp,image/gif;q=0.9,*/*;q=0.1"
_MIB = 1024 * 1024


@dataclass(frozen=True, slots=True)
class ImagePart:
    """An image in a user message: its bytes and media type, checked when made.

    Make one with a constructor that says where the image is; each checks it at once and raises
    :class:`~langchain_cloudflare_playground.client.errors.ImageError` saying what to do::

        ImagePart.from_path("photo.png")
        ImagePart.from_bytes(data)  # the media type is read from the bytes
        ImagePart.from_base64(text, "image/jpeg")
        ImagePart.from_url("data:image/png;base64,iVBOR...")
        ImagePart.from_url("https://example.com/cat.webp")  # fetched by the client when sent
        ImagePart.from_source("photo.png")  # a path, a data: URL or an http(s) URL

    Attributes:
        data: The image's bytes (empty while an ``http(s)`` image is not fetched yet).
        media_type: ``image/png``, ``image/jpeg``, ``image/webp`` or ``image/gif``.
        url: The ``http(s)`` URL the image is to be fetched from, or ``None``.
    """

    data: bytes = field(default=b"", repr=False)
    media_type: str = ""
    url: str | None = None

    def __post_init__(self) -> None:
        """Check the bytes (or the URL) and settle the media type."""
        declared = _normal_media_type(self.media_type) if self.media_type else None
        if self.url is not None:
            if self.data:
                msg = "an ImagePart holds its bytes or an http(s) URL to fetch them from, not both"
                raise ImageError(msg)
            _check_http_url(self.url)
            object.__setattr__(self, "media_type", declared or "")
            return
        object.__setattr__(self, "data", bytes(self.data))
        object.__setattr__(self, "media_type", check_image(self.data, declared))

    def __repr__(self) -> str:
        """The type, the size and the digest; never the bytes."""
        if self.url is not None:
            return f"ImagePart(url={self.url!r})"
        return f"ImagePart({self.media_type}, {len(self.data)} bytes, sha256={self.sha256[:12]})"

    # -- constructors ---------------------------------------------------------------------

    @classmethod
    def from_bytes(
        cls, data: bytes | bytearray | memoryview, media_type: str | None = None
    ) -> ImagePart:
        """An image from its bytes; ``media_type`` is read from them when not given."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            msg = f"image data must be bytes, not {type(data).__name__}"
            raise ImageError(msg)
        return cls(bytes(data), media_type or "")

    @classmethod
    def from_path(cls, path: str | os.PathLike[str], media_type: str | None = None) -> ImagePart:
        """An image from a file; a file over the size limit is refused before it is read."""
        where = Path(path).expanduser()
        data = _read_image_file(where)
        try:
            return cls(data, media_type or "")
        except ImageError as exc:
            msg = f"{where}: {exc}"
            raise ImageError(msg) from None

    @classmethod
    def from_base64(cls, text: str | bytes, media_type: str | None = None) -> ImagePart:
        """An image from base64 text (whitespace is ignored; URL-safe base64 is accepted)."""
        raw = text.encode("ascii", "replace") if isinstance(text, str) else bytes(text)
        raw = re.sub(rb"\s+", b"", raw)
        if len(raw) // 4 * 3 > MAX_IMAGE_BYTES + 3:  # refused before decoding it
            raise ImageError(_too_large(len(raw) // 4 * 3, "the base64 image"))
        if b"-" in raw or b"_" in raw:
            raw = raw.replace(b"-", b"+").replace(b"_", b"/")
        try:
            data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=True)
        except (binascii.Error, ValueError):
            snippet = raw[:24].decode("ascii", "replace")
            msg = (
                f"the image data is not valid base64 (it starts {snippet!r}); pass the base64 of"
                " the file's bytes, without a 'data:' prefix (or pass the data URL whole)"
            )
            raise ImageError(msg) from None
        return cls(data, media_type or "")

    @classmethod
    def from_url(cls, url: str, media_type: str | None = None) -> ImagePart:
        """An image from a ``data:`` URL, or an ``http(s)`` URL that the client fetches."""
        if not isinstance(url, str):
            msg = f"an image URL must be a string, not {type(url).__name__}"
            raise ImageError(msg)
        url = url.strip()
        scheme = _scheme_of(url)
        if scheme == "data":
            return cls._from_data_url(url, media_type)
        if scheme in ("http", "https"):
            return cls(url=url, media_type=media_type or "")
        msg = (
            f"the image URL {url!r:.60} is not a data: or http(s) URL; pass a local file as a path"
            " (ImagePart.from_path) or its bytes"
        )
        raise ImageError(msg)

    @classmethod
    def from_source(cls, source: str | os.PathLike[str]) -> ImagePart:
        """An image from a path, a ``data:`` URL or an ``http(s)`` URL, told apart by its form."""
        if isinstance(source, str) and _scheme_of(source.strip()) in ("data", "http", "https"):
            return cls.from_url(source)
        return cls.from_path(source)

    @classmethod
    def _from_data_url(cls, url: str, media_type: str | None) -> ImagePart:
        header, comma, payload = url[len("data:") :].partition(",")
        if not comma:
            msg = "the data URL has no ',' before its data; write it as data:image/png;base64,..."
            raise ImageError(msg)
        params = header.split(";")
        in_url = params[0].strip() or None
        if media_type and in_url and _normal_media_type(media_type) != _normal_media_type(in_url):
            msg = (
                f"the data URL says {in_url} but the image is declared {media_type}; give one"
                " media type (or none: it is read from the bytes)"
            )
            raise ImageError(msg)
        declared = media_type or in_url
        if "base64" in (p.strip().lower() for p in params[1:]):
            return cls.from_base64(payload, declared)
        if len(payload) > 3 * MAX_IMAGE_BYTES:
            raise ImageError(_too_large(len(payload) // 3, "the data URL's image"))
        return cls(unquote_to_bytes(payload), declared or "")

    # -- what it is -----------------------------------------------------------------------

    @property
    def fetched(self) -> bool:
        """Whether the bytes are here (an ``http(s)`` image is fetched when it is sent)."""
        return self.url is None

    @property
    def sha256(self) -> str:
        """The hex SHA-256 of the bytes: what identifies the image in a recorded conversation."""
        return hashlib.sha256(self.data).hexdigest()

    def data_url(self) -> str:
        """The image as a ``data:`` URL, as the Agents frames carry it."""
        if self.url is not None:
            msg = f"the image at {self.url} has not been fetched yet"
            raise ImageError(msg)
        return f"data:{self.media_type};base64,{base64.b64encode(self.data).decode('ascii')}"


def image_of_part(part: object) -> ImagePart | None:
    """The image a message content part holds, or ``None`` when it is no image part.

    Reads :class:`ImagePart` itself; OpenAI's ``{"type": "image_url", "image_url": {"url": ...}}``
    (or the URL as a bare string) and ``{"type": "input_image", "image_url": ...}``; LangChain's
    standard ``{"type": "image", "base64" | "url" | "file_id": ..., "mime_type": ...}`` blocks and
    their older ``source_type`` form; and Anthropic's ``{"type": "image", "source": {...}}``.

    Raises:
        ImageError: an image part whose image cannot be sent (a file id, bad data, ...).
    """
    if isinstance(part, ImagePart):
        return part
    if not isinstance(part, Mapping):
        return None
    kind = part.get("type")
    if kind in ("image_url", "input_image"):
        return _image_of_url_part(part, str(kind))
    if kind != "image":
        return None
    return _image_of_block(part)


def _image_of_block(part: Mapping[str, object]) -> ImagePart:
    media_type = _text_field(part, "mime_type")
    source = part.get("source")
    if isinstance(source, Mapping):  # Anthropic's shape
        return _image_of_source(source, _text_field(source, "media_type") or media_type)
    source_type = part.get("source_type")  # LangChain's older blocks say where the data is
    if part.get("base64") is not None or source_type == "base64":
        data = part.get("base64") if part.get("base64") is not None else part.get("data")
        return ImagePart.from_base64(_as_text(data), media_type)
    if part.get("url") is not None:
        return ImagePart.from_url(_as_text(part.get("url")), media_type)
    if part.get("file_id") is not None or source_type == "id":
        raise _file_reference(part.get("file_id") or part.get("id"))
    if part.get("data") is not None:
        return ImagePart.from_base64(_as_text(part.get("data")), media_type)
    msg = "an image block needs 'base64' data or a 'url' (a data: or http(s) URL)"
    raise ImageError(msg)


def _image_of_url_part(part: Mapping[str, object], kind: str) -> ImagePart:
    value = part.get("image_url")
    url = value.get("url") if isinstance(value, Mapping) else value
    if url is None and part.get("file_id") is not None:
        raise _file_reference(part.get("file_id"))
    if not isinstance(url, str):
        msg = f"an {kind} part needs its URL as a string (image_url.url), not {url!r:.60}"
        raise ImageError(msg)
    return ImagePart.from_url(url)


def _image_of_source(source: Mapping[str, object], media_type: str | None) -> ImagePart:
    if source.get("type") == "base64":
        return ImagePart.from_base64(_text_field(source, "data") or "", media_type)
    if source.get("type") == "url":
        return ImagePart.from_url(_text_field(source, "url") or "", media_type)
    raise _file_reference(source.get("file_id") or source.get("type"))


def check_image(data: bytes, declared: str | None = None) -> str:
    """The media type of the image ``data``, after checking it can be sent.

    Raises:
        ImageError: empty, over :data:`MAX_IMAGE_BYTES`, not PNG/JPEG/WebP/GIF, another type
            than ``declared``, or cut short.
    """
    if declared is not None:
        declared = _normal_media_type(declared)
    if not data:
        msg = "the image is empty (0 bytes); pass the whole file"
        raise ImageError(msg)
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageError(_too_large(len(data), "the image"))
    sniffed = _sniff(data)
    if sniffed is None:
        described = f"declared {declared}, " if declared else ""
        msg = (
            f"the image ({described}starting {data[:8]!r}) is not PNG, JPEG, WebP or GIF, the"
            " types the playground's vision models take; convert it to one of those"
        )
        raise ImageError(msg)
    if declared is not None and declared != sniffed:
        msg = (
            f"the image is declared {declared} but its bytes are {sniffed}; fix the declared"
            " type, or leave it out and it is read from the bytes"
        )
        raise ImageError(msg)
    if not _complete(data, sniffed):
        msg = (
            f"the {sniffed} image ({len(data)} bytes) ends before its end marker: the file is"
            " cut short; send the whole file"
        )
        raise ImageError(msg)
    return sniffed


async def fetch_images(images: Iterable[ImagePart], transport: Transport) -> dict[str, ImagePart]:
    """Fetch every not-yet-fetched image of ``images`` over ``transport``: fetched part by URL.

    Each URL is fetched once, all at the same time, and checked as any image is.

    Raises:
        ImageFetchError: a URL could not be fetched, or its answer is not an image to send.
    """
    urls = list(dict.fromkeys(part.url for part in images if part.url is not None))
    declared = {part.url: part.media_type for part in images if part.url is not None}
    fetched = await asyncio.gather(
        *(_fetch(url, declared.get(url) or None, transport) for url in urls)
    )
    return dict(zip(urls, fetched, strict=True))


async def _fetch(url: str, media_type: str | None, transport: Transport) -> ImagePart:
    # Never the playground's session: the image is on another site.
    request = HttpRequest("GET", url, {"Accept": _ACCEPT})
    try:
        async with transport.stream(request) as response:
            content_type = (response.header("content-type") or "").split(";", 1)[0].strip()
            data = await _image_body(url, response)
    except ImageFetchError:
        raise
    except PlaygroundError as exc:
        # The transports word their errors for the playground; here they are about the image's
        # site ("cannot reach the image's site: ...", "no data from the image's site for 10 s").
        reason = str(exc).replace("the playground", "the image's site") or type(exc).__name__
        raise ImageFetchError(url, reason) from exc
    except ValueError as exc:  # a URL the HTTP library cannot request (a host IDNA refuses)
        raise ImageFetchError(url, f"the URL cannot be requested ({exc})") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageFetchError(url, _too_large(MAX_IMAGE_BYTES, "the image", more=True))
    try:
        return ImagePart(data, media_type or "")
    except ImageError as exc:
        answered = f" (the server called it {content_type})" if content_type else ""
        raise ImageFetchError(url, f"{exc}{answered}") from None


async def _image_body(url: str, response: HttpResponse) -> bytes:
    """The body of an image response, at most one byte past the limit."""
    if response.status >= 300:  # noqa: PLR2004 (redirects were followed)
        raise ImageFetchError(url, f"the server answered HTTP {response.status}")
    length = response.header("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_IMAGE_BYTES:
        raise ImageFetchError(url, _too_large(int(length), "the image"))
    return await response.aread(MAX_IMAGE_BYTES + 1)


def _read_image_file(where: Path) -> bytes:
    try:
        size = where.stat().st_size
        if where.is_dir():
            msg = f"{where} is a folder, not an image file"
        elif size > MAX_IMAGE_BYTES:
            msg = _too_large(size, f"the image file {where}")
        else:
            return where.read_bytes()
    except OSError as exc:
        msg = f"cannot read the image file {where}: {exc.strerror or exc}"
    raise ImageError(msg)


# -- checks -------------------------------------------------------------------------------


def _normal_media_type(media_type: str) -> str:
    if not isinstance(media_type, str):
        msg = f"a media type must be a string such as 'image/png', not {type(media_type).__name__}"
        raise ImageError(msg)
    normal = media_type.split(";", 1)[0].strip().lower()
    normal = _SYNONYMS.get(normal, normal)
    if normal not in IMAGE_MEDIA_TYPES:
        msg = (
            f"media type {media_type!r} is not one the playground's vision models take; send"
            f" {', '.join(IMAGE_MEDIA_TYPES)} (convert the image to one of those)"
        )
        raise ImageError(msg)
    return normal


def _sniff(data: bytes) -> str | None:
    """The media type the magic number at the start of ``data`` says, among the four."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith((b"GIF87a", b"GIF89a")):
        return "image/gif"
    return None


def _complete(data: bytes, media_type: str) -> bool:
    """Whether ``data`` reaches its format's end (a file cut short does not)."""
    if media_type == "image/png":
        return data.rfind(b"IEND\xae\x42\x60\x82") >= 8  # noqa: PLR2004 (after the signature)
    if media_type == "image/jpeg":
        return data.rfind(b"\xff\xd9") >= 2  # noqa: PLR2004 (an end of image after the start)
    if media_type == "image/webp":
        declared = int.from_bytes(data[4:8], "little") + 8
        return len(data) >= 12 and declared <= len(data)  # noqa: PLR2004 (the RIFF header)
    return data.rstrip(b"\x00").endswith(b";")  # GIF's trailer, padding allowed


def _text_field(block: Mapping[str, object], key: str) -> str | None:
    value = block.get(key)
    return value if isinstance(value, str) and value else None


def _as_text(value: object) -> str:
    if isinstance(value, (str, bytes)):
        return value if isinstance(value, str) else value.decode("ascii", "replace")
    msg = f"image data must be a base64 string or a URL string, not {type(value).__name__}"
    raise ImageError(msg)


def _file_reference(reference: object) -> ImageError:
    return ImageError(
        f"the image is a reference to a stored file ({reference!r:.60}); the playground has no"
        " file store: pass the image's base64 data or a URL instead"
    )


def _check_http_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        valid = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
        _ = parts.port  # a port that is no number raises here
        if parts.hostname:
            parts.hostname.encode("idna")  # an empty or overlong label raises here
    except ValueError:  # "Invalid IPv6 URL", a bad port, a host IDNA refuses (UnicodeError)
        valid = False
    if not valid:
        msg = f"the image URL {url!r:.80} is not an http(s) URL with a host"
        raise ImageError(msg)


def _scheme_of(text: str) -> str | None:
    match = _SCHEME.match(text)
    # A one-letter "scheme" is a Windows drive ("C:\\photo.png").
    return match.group(1).lower() if match and len(match.group(1)) > 1 else None


def _too_large(size: int, what: str, *, more: bool = False) -> str:
    over = "more than " if more else ""
    return (
        f"{what} is {over}{size:,} bytes; the limit is {MAX_IMAGE_BYTES // _MIB} MiB"
        f" ({MAX_IMAGE_BYTES:,} bytes) per image: scale it down or save it as JPEG or WebP"
    )

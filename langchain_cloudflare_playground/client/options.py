"""The client's options and a chat call's options: one type each, checked when they are made.

Both adapters and the command line build their client from :class:`ClientOptions`, so an
option is named, typed, defaulted and checked in one place, and a wrong name fails at once,
naming the closest valid ones, instead of at the first call. A temperature is checked here too
(:func:`check_temperature`), for the client, both adapters and the command line alike.
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypedDict

from langchain_cloudflare_playground.client.close_names import closest_names, did_you_mean
from langchain_cloudflare_playground.client.defaults import BASE_URL_ENV, DEFAULT_BASE_URL
from langchain_cloudflare_playground.client.extras import require_extra

if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from langchain_cloudflare_playground.client.sessions import SessionCache, SessionSource
    from langchain_cloudflare_playground.client.tools import Tool, ToolChoice
    from langchain_cloudflare_playground.client.transports.base import Transport

__all__ = [
    "CHAT_OPTION_NAMES",
    "TEMPERATURE_RANGE",
    "ChatOptions",
    "ClientOptions",
    "TransportChoice",
    "WireFormatChoice",
    "base_url_from_env",
    "ca_bundle_from_env",
    "check_ca_bundle",
    "check_chat_options",
    "check_temperature",
    "resolve_base_url",
    "unknown_options_message",
    "wire_format_from_dialect",
]

WireFormatChoice = Literal["auto", "agents", "http"]
TransportChoice = Literal["auto", "direct", "impersonate", "browser"]
_WIRE_FORMATS = ("auto", "agents", "http")
_TRANSPORTS = ("auto", "direct", "impersonate", "browser")
# The option's former name and values, still accepted with a DeprecationWarning.
_FORMER_WIRE_FORMAT_NAMES = {"websocket": "agents", "auto": "auto", "http": "http"}


def base_url_from_env() -> str | None:
    """``$CF_PLAYGROUND_URL``, the one place it is read (the adapters' fields default to it)."""
    return os.environ.get(BASE_URL_ENV) or None


def resolve_base_url(base_url: str | None) -> str:
    """The playground to use: ``base_url``, else ``$CF_PLAYGROUND_URL``, else the public site.

    Raises:
        ValueError: the URL is not an http(s) URL.
    """
    resolved = (base_url or base_url_from_env() or DEFAULT_BASE_URL).rstrip("/")
    if not resolved.startswith(("http://", "https://")):
        msg = f"base_url must start with http:// or https://, not {resolved!r}"
        raise ValueError(msg)
    return resolved


@dataclass(frozen=True, kw_only=True)
class ClientOptions:
    """How a :class:`PlaygroundClient` reaches the playground.

    Attributes:
        model: The default model (an alias or a full ``@cf/``/``@hf/`` id).
        wire_format: ``"agents"`` (the live site's Agents-SDK frames over a WebSocket),
            ``"http"`` (server-sent events or the AI SDK data stream, told apart from the first
            line of each reply), or ``"auto"``: the Agents frames, falling back to HTTP for good
            when the server has no Agents route.
        timeout: Seconds allowed for the connect, for the first byte, and for every gap between
            chunks.
        total_timeout: Seconds allowed for one request and its whole reply, so that a server
            that trickles a byte now and then cannot hold a call forever; ``None`` for no limit.
            A reply cut by it raises ``PlaygroundStreamError`` with the text so far.
        max_retries: Tries after the first for retryable failures (408, 409, 429, 5xx,
            connection errors), made only before anything reached the caller. A refused session
            (403, a challenge page, a refused WebSocket upgrade) is instead replaced by a fresh
            one and the call tried again once.
        proxy: An HTTP proxy URL used for every request.
        verify: How server certificates are checked. ``True`` (the default): against the
            system's trust store, or the bundle named by ``$SSL_CERT_FILE`` when it is set (as
            OpenSSL, curl and httpx read it), by every transport. A path: against the CA
            certificates in that PEM file only, as behind a corporate proxy that re-signs TLS.
            A browser page the client opens is told to accept chains that present one of those
            CAs (Chromium looks for them only among the certificates the server sends, and
            then checks nothing else); it trusts the system's store by itself. ``False``: not
            checked at all.
        session_cache: Where sessions are cached: a ``SessionCache``, ``None`` for the default
            location, or ``False`` for no cache.
        session_source: What acquires fresh sessions. By default browser-like headers, and a
            real browser (the ``browser`` extra and a Chrome or Chromium) once the site refuses
            them.
        browser: ``False`` never starts a browser (as ``$CF_PLAYGROUND_BROWSER=0`` does),
            ``True`` requires one; ``None`` uses one when it is there.
        transport: How bytes travel. ``"direct"``: aiohttp. ``"impersonate"``: curl_cffi, with a
            TLS handshake like Chrome's (the ``impersonate`` extra). ``"browser"``: WebSockets
            opened inside a Chromium page and relayed (the ``browser`` extra and Chromium).
            ``"auto"``: the transport ladder, direct first, climbing one rung each time the site
            refuses (a rung whose extra or browser is missing is skipped), and starting on the
            rung remembered for the site in the session cache. Or a transport object of your
            own (see ``transports.base.Transport``), used for every request.
        user_agent: A user agent that overrides the session's.
        headers: Extra headers sent with every request.
        cookies: Cookies sent with every request, on top of the session's.
        models_ttl: Seconds a fetched model list stays fresh.
        max_connections: The size of the connection pool per event loop.
    """

    model: str | None = None
    wire_format: WireFormatChoice = "auto"
    timeout: float = 300.0
    total_timeout: float | None = 1800.0
    max_retries: int = 2
    proxy: str | None = field(default=None, repr=False)
    verify: bool | str = True
    session_cache: SessionCache | Literal[False] | None = None
    session_source: SessionSource | None = None
    browser: bool | None = None
    transport: TransportChoice | Transport = "auto"
    user_agent: str | None = None
    headers: Mapping[str, str] | None = field(default=None, repr=False)
    cookies: Mapping[str, str] | None = field(default=None, repr=False)
    models_ttl: float = 600.0
    max_connections: int = 100

    def __post_init__(self) -> None:
        """Check every value now, so that a mistake fails where it was made."""
        if self.wire_format not in _WIRE_FORMATS:
            msg = f"wire_format must be one of {_quoted(_WIRE_FORMATS)}, not {self.wire_format!r}"
            raise ValueError(msg)
        if isinstance(self.transport, str):
            if self.transport not in _TRANSPORTS:
                msg = (
                    f"transport must be one of {_quoted(_TRANSPORTS)} or a Transport object,"
                    f" not {self.transport!r}"
                )
                raise ValueError(msg)
            if self.transport == "impersonate":
                require_extra("curl_cffi", extra="impersonate", needed_by='transport="impersonate"')
        elif not _is_transport(self.transport):
            msg = (
                f"transport must be one of {_quoted(_TRANSPORTS)} or an object with the methods"
                f" stream, open_websocket and aclose, not {self.transport!r}"
            )
            raise TypeError(msg)
        if self.timeout <= 0:
            msg = f"timeout must be a positive number of seconds, not {self.timeout!r}"
            raise ValueError(msg)
        if self.total_timeout is not None and self.total_timeout <= 0:
            msg = (
                "total_timeout must be a positive number of seconds or None,"
                f" not {self.total_timeout!r}"
            )
            raise ValueError(msg)
        if not isinstance(self.verify, bool):
            check_ca_bundle(self.verify)
            object.__setattr__(self, "verify", os.fspath(self.verify))  # a Path is welcome
        if self.max_retries < 0:
            msg = f"max_retries must be 0 or more, not {self.max_retries!r}"
            raise ValueError(msg)

    def __hash__(self) -> int:
        """Equal options hash alike, headers and cookies included, so adapters share clients."""
        return hash(
            tuple(
                tuple(sorted(value.items())) if isinstance(value, Mapping) else value
                for value in (getattr(self, f.name) for f in dataclasses.fields(self))
            )
        )

    @classmethod
    def names(cls) -> tuple[str, ...]:
        """Every option's name."""
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_keywords(cls, options: Mapping[str, Any], *, owner: str) -> ClientOptions:
        """Options from keyword arguments given to ``owner``, with a clear error for a wrong name.

        The former name ``dialect`` (values ``"auto"``, ``"websocket"``, ``"http"``) is still
        accepted, with a ``DeprecationWarning``.

        Raises:
            TypeError: a name that is not an option; the message offers the closest valid ones
                and says where the whole list is.
        """
        options = dict(options)
        if "dialect" in options:
            options["wire_format"] = wire_format_from_dialect(options.pop("dialect"), owner)
        unknown = sorted(set(options) - set(cls.names()))
        if unknown:
            msg = unknown_options_message(
                owner,
                unknown,
                cls.names(),
                kind="client option(s)",
                every="Every option: help(ClientOptions).",
                elsewhere=_CHAT_ONLY,
            )
            raise TypeError(msg)
        return cls(**options)

    def changed(self) -> dict[str, Any]:
        """The options that differ from their defaults, by name."""
        defaults = ClientOptions()
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) != getattr(defaults, f.name)
        }


def check_ca_bundle(path: object) -> None:
    """Raise a clear error unless ``path`` names a readable PEM file of CA certificates."""
    if not isinstance(path, (str, os.PathLike)):
        msg = f"verify must be True, False or the path of a PEM CA bundle, not {path!r}"
        raise TypeError(msg)
    try:
        text = Path(path).read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        msg = f"verify={str(path)!r}: cannot read the CA bundle ({exc.strerror or exc})"
        raise ValueError(msg) from None
    if "-----BEGIN CERTIFICATE-----" not in text:
        msg = (
            f"verify={str(path)!r} holds no PEM certificate (-----BEGIN CERTIFICATE-----);"
            " export your CA as PEM"
        )
        raise ValueError(msg)


def ca_bundle_from_env() -> str | None:
    """``$SSL_CERT_FILE``, the bundle that ``verify=True`` means when it is set."""
    return os.environ.get("SSL_CERT_FILE") or None


def wire_format_from_dialect(value: object, owner: str) -> object:
    """The ``wire_format`` for a value of the option's former name ``dialect``, with a warning."""
    warnings.warn(
        f"{owner}: the option `dialect` is now `wire_format`, and its value 'websocket' is now"
        " 'agents'",
        DeprecationWarning,
        stacklevel=4,
    )
    return _FORMER_WIRE_FORMAT_NAMES.get(str(value), value)


class ChatOptions(TypedDict, total=False):
    """The options of one chat call: ``astream_chat``, ``achat``, ``stream_chat``, ``chat``.

    Attributes:
        model: An alias or full id; defaults to the client's model.
        max_tokens: The most tokens the reply may have (the HTTP wire formats honour it).
        temperature: Sampling temperature; the playground's default when ``None``.
        tools: Tools the model may call (:class:`Tool` objects, or dicts with ``name``,
            ``description`` and ``parameters``). The playground takes no client-defined tools,
            so they are offered in the system prompt and calls are parsed from the reply.
        tool_choice: ``"auto"``, ``"required"``, ``"none"``, or a tool's name.
    """

    model: str | None
    max_tokens: int
    temperature: float | None
    tools: Sequence[Tool | Mapping[str, Any]] | None
    tool_choice: ToolChoice | None


CHAT_OPTION_NAMES = tuple(ChatOptions.__annotations__)
# A chat option given to the client's constructor: where it goes instead.
_CHAT_ONLY = {
    name: f"an option of each chat call (client.chat(..., {name}=...)), not of the client"
    for name in CHAT_OPTION_NAMES
    if name != "model"  # the client takes a default model too
}


def check_chat_options(options: Mapping[str, Any], *, owner: str) -> None:
    """Raise a clear error for an unknown option or a temperature out of range.

    Raises:
        TypeError: an unknown name (the message offers the closest valid ones), or a
            temperature that is not a number.
        ValueError: a temperature out of :data:`TEMPERATURE_RANGE`.
    """
    unknown = sorted(set(options) - set(CHAT_OPTION_NAMES))
    if unknown:
        msg = unknown_options_message(
            owner,
            unknown,
            CHAT_OPTION_NAMES,
            every=f"The chat options: {', '.join(CHAT_OPTION_NAMES)}.",
        )
        raise TypeError(msg)
    check_temperature(options.get("temperature"))


# Workers AI's text-generation models take a temperature from 0 to 5 (each model's input
# schema: "temperature: number, minimum 0, maximum 5", default 0.6 on most), and the playground
# passes it on to them. The client, both adapters and the command line check against this.
TEMPERATURE_RANGE = (0.0, 5.0)


def check_temperature(value: object) -> float | None:
    """``value`` when it is a temperature Workers AI takes, or ``None`` (the model's default).

    Raises:
        TypeError: ``value`` is not a number.
        ValueError: ``value`` is out of :data:`TEMPERATURE_RANGE` (or not finite).
    """
    low, high = TEMPERATURE_RANGE
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = (
            f"temperature must be a number from {low:g} to {high:g} (or None for the model's"
            f" default), not {value!r}"
        )
        raise TypeError(msg)
    if not low <= value <= high:  # NaN fails this too
        msg = (
            f"temperature={value:g} is out of range: Workers AI takes {low:g} to {high:g}"
            f" (higher is more random); pass a number from {low:g} to {high:g}, or None for the"
            " model's default"
        )
        raise ValueError(msg)
    return float(value)


# Names people bring from keyed APIs (OpenAI's api_key, Cloudflare's API token and account).
_CREDENTIALS = frozenset(
    {"api_key", "key", "token", "api_token", "access_token", "auth_token", "account_id"}
)
_CREDENTIAL_ENDINGS = ("_api_key", "_api_token", "_account_id")


def _is_credential(name: str) -> bool:
    lowered = name.lower()
    return lowered in _CREDENTIALS or lowered.endswith(_CREDENTIAL_ENDINGS)


def unknown_options_message(  # noqa: PLR0913 (each says what the message is about)
    owner: str,
    unknown: Sequence[str],
    valid: Iterable[str],
    *,
    kind: str = "option(s)",
    every: str,
    elsewhere: Mapping[str, str] | None = None,
) -> str:
    """What ``owner`` says of ``unknown`` names: the closest ``valid`` ones, not all of them.

    ``every`` is the sentence that says where the whole list is (``help(...)``); ``elsewhere``
    maps a name that belongs somewhere else to where. A key or token gets one sentence of its
    own: none is needed.
    """
    valid = list(valid)
    credentials = [name for name in unknown if _is_credential(name)]
    others = [name for name in unknown if name not in credentials]
    sentences = []
    if credentials:
        sentences.append(
            f"{owner} takes no {_quoted(credentials)}: the playground needs no API key, token"
            " or account; leave it out."
        )
    if others:
        sentences.append(f"{owner} got unknown {kind} {_quoted(others)}.")
        for name in others:
            placed = (elsewhere or {}).get(name)
            # The nearest name, and the next one in case the nearest is not what was meant.
            hint = (
                f"It is {placed}." if placed else did_you_mean(closest_names(name, valid, limit=2))
            )
            if hint and len(others) > 1:
                hint = f"{name!r}: {hint[0].lower()}{hint[1:]}"
            sentences.append(hint)
        sentences.append(every)
    return " ".join(sentence for sentence in sentences if sentence)


def _is_transport(value: object) -> bool:
    return all(callable(getattr(value, name, None)) for name in _TRANSPORT_METHODS)


_TRANSPORT_METHODS = ("stream", "open_websocket", "aclose")


def _quoted(values: Sequence[str]) -> str:
    return ", ".join(map(repr, values))

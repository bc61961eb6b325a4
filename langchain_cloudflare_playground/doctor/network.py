"""The checks that talk to the site, one per layer, each returning a :class:`Check`.

Each check catches what its layer can fail with and says so in the verdict; none raises for a
failure of the site. The checks reuse the client's own pieces (its transports, its route, its
wire-format detection), so what the doctor sees is what a chat would meet.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import socket
import ssl
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.defaults import DEFAULT_BASE_URL, DEFAULT_MODEL
from langchain_cloudflare_playground.client.drivers.base import Route, iter_lines
from langchain_cloudflare_playground.client.errors import (
    CertificateError,
    ChallengeError,
    NotFoundError,
    PlaygroundConnectionError,
    PlaygroundError,
    RateLimitError,
    ServerError,
    is_challenge_page,
    is_edge_refusal,
)
from langchain_cloudflare_playground.client.messages import Conversation, Message
from langchain_cloudflare_playground.client.transports.base import HttpRequest, WebSocketRequest
from langchain_cloudflare_playground.client.transports.trust import ssl_context
from langchain_cloudflare_playground.client.wire_formats import (
    ChatRequest,
    HttpWireFormat,
    detect_http_wire_format,
)
from langchain_cloudflare_playground.client.wire_formats.agents_frames import agent_url, new_room
from langchain_cloudflare_playground.doctor.records import UPDATE_ADVICE, Check, Verdict

if TYPE_CHECKING:
    from collections.abc import Mapping

    from langchain_cloudflare_playground.client.sessions import SessionStore
    from langchain_cloudflare_playground.client.transport_ladder import Rung
    from langchain_cloudflare_playground.client.transports.base import Transport

__all__ = [
    "Probe",
    "Site",
    "error_check",
    "http_check",
    "http_wire_format_check",
    "page_check",
    "resolve_check",
    "tcp_check",
    "tls_check",
    "websocket_check",
]

_PAGE_LIMIT = 64 * 1024  # enough to read a page's title and tell a challenge page
_TITLE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)
# A 404 where a playground answers: the URL is not a playground (or not its root), or the site
# moved its routes. The package is not on PyPI: an update comes from its repository.
_NOT_A_PLAYGROUND = (
    f"check the URL (--base-url; the live playground is {DEFAULT_BASE_URL}); if it is the live"
    f" site, {UPDATE_ADVICE}"
)


class Site:
    """Where the playground is: its URL, and the host and port taken from it."""

    def __init__(self, base_url: str) -> None:
        """Split ``base_url`` (``http(s)://host[:port]``)."""
        from urllib.parse import urlsplit  # noqa: PLC0415

        parts = urlsplit(base_url)
        self.base_url = base_url
        self.secure = parts.scheme == "https"
        self.host = parts.hostname or ""
        self.port = parts.port or (443 if self.secure else 80)


@dataclass(frozen=True)
class Probe:
    """What every check above TCP needs.

    Attributes:
        site: The playground.
        headers: The headers a chat sends (the session's cookies among them).
        timeout: Seconds allowed for each step.
        climb: The advice for a refusal the transport ladder could pass.
    """

    site: Site
    headers: Mapping[str, str]
    timeout: float
    climb: str


# What to do about an error, by its class (the first that matches); a rate limit, a refusal
# the ladder could pass and a shape this version does not read are advised in advice_for.
_ADVICE: tuple[tuple[type[PlaygroundError], str], ...] = (
    (
        CertificateError,
        "if a proxy re-signs TLS, trust its CA: --ca-bundle PEM (or set SSL_CERT_FILE)",
    ),
    (NotFoundError, f"this URL has no such route (HTTP 404): {_NOT_A_PLAYGROUND}"),
    (
        ServerError,
        (
            "the playground failed on its side: try again in a while; if it keeps failing, file"
            " an issue with the output of `cf-playground doctor --json`"
        ),
    ),
    (
        PlaygroundConnectionError,
        "check the network (and --proxy), or give it longer (--timeout), then try again",
    ),
)


def advice_for(error: BaseException, *, climb: str) -> str:
    """What to do about ``error``; ``climb`` is the advice for a refusal the ladder could pass."""
    if isinstance(error, RateLimitError):
        wait = f" ({error.retry_after:g} s, the site says)" if error.retry_after else ""
        return f"the site rate-limits this address: wait a while{wait}, then try again"
    if is_edge_refusal(error):
        return climb
    for kind, advice in _ADVICE:
        if isinstance(error, kind):
            return advice
    return f"this URL answers, but not as a playground this version knows: {_NOT_A_PLAYGROUND}"


def verdict_of(error: PlaygroundError) -> Verdict:
    """``refused`` when the site (or its edge) said no, else ``failed``."""
    return "refused" if isinstance(error, (ChallengeError, NotFoundError)) else "failed"


def error_check(name: str, error: PlaygroundError, seconds: float, *, climb: str) -> Check:
    """The check ``name`` that ``error`` ended: its verdict, the error on one line, the advice."""
    return Check(
        name, verdict_of(error), one_line(error), seconds, advice=advice_for(error, climb=climb)
    )


def one_line(error: BaseException) -> str:
    """``error``'s message on one line."""
    text = str(error) or type(error).__name__
    return " ".join(text.split())


async def resolve_check(site: Site, *, timeout: float) -> tuple[Check, list[str]]:  # noqa: ASYNC109 (its verdict names the limit)
    """The name resolves; the addresses it resolves to."""
    start = time.monotonic()
    try:
        found = await asyncio.wait_for(
            asyncio.get_running_loop().getaddrinfo(site.host, site.port, type=socket.SOCK_STREAM),
            timeout,
        )
    except (TimeoutError, OSError) as exc:
        why = "no answer in time" if isinstance(exc, TimeoutError) else one_line(exc)
        return Check(
            "name resolves",
            "failed",
            f"{site.host} does not resolve ({why})",
            time.monotonic() - start,
            {"host": site.host},
            f"check the URL (--base-url, $CF_PLAYGROUND_URL) and this network's DNS ({site.host})",
        ), []
    addresses = list(dict.fromkeys(str(entry[4][0]) for entry in found))
    more = f" (+{len(addresses) - 1} more)" if len(addresses) > 1 else ""
    return Check(
        "name resolves",
        "ok",
        f"{site.host} -> {addresses[0]}{more}",
        time.monotonic() - start,
        {"host": site.host, "addresses": addresses},
    ), addresses


async def tcp_check(site: Site, address: str, *, timeout: float) -> Check:  # noqa: ASYNC109 (its verdict names the limit)
    """A TCP connection opens to the site's port."""
    start = time.monotonic()
    where = f"{address}:{site.port}"
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection(address, site.port), timeout)
    except (TimeoutError, OSError) as exc:
        why = (
            f"no answer within {timeout:g} s"
            if isinstance(exc, TimeoutError)
            else "nothing listening (connection refused)"
            if isinstance(exc, ConnectionRefusedError)
            else one_line(exc)
        )
        return Check(
            "tcp connect",
            "failed",
            f"{where}: {why}",
            time.monotonic() - start,
            {"address": where},
            f"nothing answers at {where}: check the URL (--base-url), the network, or --proxy",
        )
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return Check("tcp connect", "ok", where, time.monotonic() - start, {"address": where})


async def tls_check(site: Site, *, verify: bool | str, timeout: float, climb: str) -> Check:  # noqa: ASYNC109 (its verdict names the limit)
    """The TLS handshake with Python's own TLS (OpenSSL): version and certificate."""
    if not site.secure:
        return Check("tls", "skipped", "plain http")
    start = time.monotonic()
    try:
        _, writer = await asyncio.wait_for(
            asyncio.open_connection(
                site.host,
                site.port,
                ssl=ssl_context(verify=verify),
                server_hostname=site.host,
            ),
            timeout,
        )
    except ssl.SSLCertVerificationError as exc:
        return Check(
            "tls",
            "failed",
            f"the certificate is not trusted ({exc.verify_message})",
            time.monotonic() - start,
            advice=advice_for(CertificateError(), climb=climb),
        )
    except ssl.SSLError as exc:
        if "ALERT" in str(exc.reason or ""):  # the server ended the handshake: a "no"
            return Check(
                "tls",
                "refused",
                f"the site ended Python's TLS handshake ({exc.reason}), as Cloudflare does to"
                " clients whose handshake is not a browser's",
                time.monotonic() - start,
                advice=climb,
            )
        return Check("tls", "failed", one_line(exc), time.monotonic() - start)
    except (TimeoutError, OSError) as exc:
        why = "no answer in time" if isinstance(exc, TimeoutError) else one_line(exc)
        return Check("tls", "failed", why, time.monotonic() - start)
    tls = writer.get_extra_info("ssl_object")
    facts: dict[str, object] = {"version": tls.version() if tls else None}
    certificate = tls.getpeercert() if tls else None
    if certificate:
        facts["subject"] = _name(certificate.get("subject", ()))
        facts["issuer"] = _name(certificate.get("issuer", ()))
        facts["not_after"] = certificate.get("notAfter")
    writer.close()
    with contextlib.suppress(OSError, ssl.SSLError):
        await writer.wait_closed()
    issued = f", issued by {facts['issuer']}" if facts.get("issuer") else ""
    until = f", valid until {facts['not_after']}" if facts.get("not_after") else ""
    return Check(
        "tls",
        "ok",
        f"{facts['version']}, certificate for {facts.get('subject') or site.host}{issued}{until}",
        time.monotonic() - start,
        facts,
    )


def _name(rdns: object) -> str:
    """The common name (else the organisation) of a certificate's subject or issuer."""
    found: dict[str, str] = {}
    for rdn in rdns if isinstance(rdns, tuple) else ():
        for key, value in rdn:
            found.setdefault(key, value)
    return found.get("commonName") or found.get("organizationName") or ""


async def _get(
    transport: Transport, site: Site, headers: Mapping[str, str], path: str = "/"
) -> tuple[int, dict[str, str], str]:
    """``GET path``: the status, the headers and the start of the body."""
    accept = "text/html" if path == "/" else "application/json"
    request = HttpRequest("GET", f"{site.base_url}{path}", {**headers, "Accept": accept})
    async with transport.stream(request) as response:
        body = await response.aread(_PAGE_LIMIT)
        return response.status, response.headers, body.decode("utf-8", "replace")


def _challenged(status: int, headers: Mapping[str, str], body: str) -> bool:
    """Cloudflare's challenge: a 403 or 503 that says so (its header, or the page's markers).

    Only that: a plain 403 or 404 is called what it is.
    """
    return status in (403, 503) and (
        headers.get("cf-mitigated") == "challenge" or is_challenge_page(status, body)
    )


async def page_check(transport: Transport, probe: Probe) -> Check:
    """The site's page, fetched directly: loaded, or Cloudflare's challenge page."""
    site, headers, timeout, climb = probe.site, probe.headers, probe.timeout, probe.climb
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            status, response_headers, body = await _get(transport, site, headers)
    except PlaygroundError as exc:
        return error_check("page", exc, time.monotonic() - start, climb=climb)
    except TimeoutError:
        return Check("page", "failed", f"no page within {timeout:g} s", time.monotonic() - start)
    seconds = time.monotonic() - start
    match = _TITLE.search(body)
    title = " ".join(match.group(1).split()) if match else ""
    challenged = _challenged(status, response_headers, body)
    verdict, why, advice = _page_verdict(status, title, challenged=challenged, probe=probe)
    return Check("page", verdict, why, seconds, {"status": status, "title": title}, advice)


def _page_verdict(
    status: int, title: str, *, challenged: bool, probe: Probe
) -> tuple[Verdict, str, str | None]:
    """What the page's answer says: the verdict, why, and what to do (if anything)."""
    if challenged:
        why = f"a challenge page (HTTP {status}, {title!r}): the edge wants a browser"
        return "refused", why, probe.climb
    if status == 403:  # noqa: PLR2004
        return "refused", f"HTTP 403 ({title!r}): forbidden, not a challenge page", probe.climb
    if status == 404:  # noqa: PLR2004
        advice = f"no page at {probe.site.base_url}/ (HTTP 404): {_NOT_A_PLAYGROUND}"
        return "failed", f"HTTP 404 ({title!r})", advice
    if status >= 400:  # noqa: PLR2004
        return "failed", f"HTTP {status} ({title!r})", None
    return "ok", f"loaded (HTTP {status}, {title!r})", None


async def http_check(rung: Rung, transport: Transport, probe: Probe) -> Check:
    """Whether ``GET /api/models`` over ``rung`` gets past the edge (any answer but a refusal).

    The model list is the HTTP request the client makes; a site that has none (the live site
    speaks the Agents frames) still answers it, with a 404, once the edge lets the request in.
    """
    site, headers, timeout, climb = probe.site, probe.headers, probe.timeout, probe.climb
    name = f"http via {rung}"
    start = time.monotonic()
    try:
        async with asyncio.timeout(timeout):
            status, response_headers, body = await _get(transport, site, headers, "/api/models")
    except PlaygroundError as exc:
        return error_check(name, exc, time.monotonic() - start, climb=climb)
    except TimeoutError:
        return Check(name, "failed", f"no answer within {timeout:g} s", time.monotonic() - start)
    seconds = time.monotonic() - start
    if _challenged(status, response_headers, body):
        return Check(
            name, "refused", f"HTTP {status}: a challenge", seconds, {"status": status}, climb
        )
    if status == 403:  # noqa: PLR2004
        why = "HTTP 403: forbidden, not a challenge page"
        return Check(name, "refused", why, seconds, {"status": status}, climb)
    if status >= 500:  # noqa: PLR2004
        return Check(name, "failed", f"HTTP {status}", seconds, {"status": status})
    return Check(name, "ok", f"answered (HTTP {status})", seconds, {"status": status})


async def websocket_check(rung: Rung, transport: Transport, probe: Probe) -> Check:
    """Whether the Agents WebSocket upgrade succeeds over ``rung``, and its first frame."""
    site, headers, timeout, climb = probe.site, probe.headers, probe.timeout, probe.climb
    name = f"websocket via {rung}"
    start = time.monotonic()
    request = WebSocketRequest(agent_url(site.base_url, new_room()), headers, {"doctor": "upgrade"})
    try:
        opened = await asyncio.wait_for(transport.open_websocket(request), timeout)
        try:
            frame = await asyncio.wait_for(opened.receive(), timeout)
        finally:
            opened.conversation_ended()
            await opened.close()
    except PlaygroundError as exc:
        if isinstance(exc, NotFoundError):
            why, todo = "no Agents WebSocket route here (HTTP 404)", None
        else:
            why, todo = one_line(exc), advice_for(exc, climb=climb)
        # Whether the ladder would climb past it: the browser rung is tried only then.
        facts = {"edge_refusal": is_edge_refusal(exc)}
        return Check(name, verdict_of(exc), why, time.monotonic() - start, facts, todo)
    except TimeoutError:
        return Check(name, "failed", f"no frame within {timeout:g} s", time.monotonic() - start)
    kind = _frame_type(frame)
    return Check(
        name,
        "ok",
        f"upgraded; first frame {kind}",
        time.monotonic() - start,
        {"first_frame": kind},
    )


def _frame_type(frame: str) -> str:
    try:
        decoded = json.loads(frame)
    except ValueError:
        return "(not JSON)"
    kind = decoded.get("type") if isinstance(decoded, dict) else None
    return str(kind) if kind else "(no type)"


async def http_wire_format_check(
    transport: Transport, probe: Probe, sessions: SessionStore
) -> Check:
    """Which HTTP wire format ``POST /api/inference`` answers in (a one-token request)."""
    site, timeout, climb = probe.site, probe.timeout, probe.climb
    start = time.monotonic()
    request = ChatRequest(Conversation(None, (Message("user", "Hi"),)), DEFAULT_MODEL, 1, None)
    route = Route(site.base_url, transport, sessions)

    async def first_line() -> str:
        async with (
            route.request(
                "POST", "/api/inference", json_body=HttpWireFormat.DATA_STREAM.encode(request)
            ) as response,
            contextlib.aclosing(iter_lines(response)) as lines,
        ):
            async for line in lines:
                if line.strip():
                    return line
        return ""

    try:
        spoken = detect_http_wire_format(await asyncio.wait_for(first_line(), timeout))
    except PlaygroundError as exc:
        if isinstance(exc, NotFoundError):
            return Check(
                "wire format",
                "failed",
                "neither the Agents WebSocket nor POST /api/inference is here (HTTP 404)",
                time.monotonic() - start,
                advice=_NOT_A_PLAYGROUND,
            )
        return error_check("wire format", exc, time.monotonic() - start, climb=climb)
    except TimeoutError:
        return Check(
            "wire format", "failed", f"no reply within {timeout:g} s", time.monotonic() - start
        )
    named = {
        HttpWireFormat.SSE: "HTTP, server-sent events",
        HttpWireFormat.DATA_STREAM: "HTTP, AI SDK data stream",
    }[spoken]
    return Check(
        "wire format", "ok", named, time.monotonic() - start, {"wire_format": spoken.value}
    )

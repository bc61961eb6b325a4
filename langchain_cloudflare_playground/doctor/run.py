""":func:`diagnose`: every check, in order, against one playground.

The order follows the chain a chat goes down: the name, TCP, TLS, the page, each transport rung
(the WebSocket upgrade and an HTTP request), the wire format, the model list, one chat, and the
session cache. A check that cannot run because an earlier one failed (no TCP connection: nothing
above it can work) is skipped, and says so.
"""

from __future__ import annotations

import platform
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeGuard
from urllib.parse import unquote, urlsplit

from langchain_cloudflare_playground.client.errors import PlaygroundError
from langchain_cloudflare_playground.client.events import ReasoningDelta, TextDelta
from langchain_cloudflare_playground.client.extras import is_installed
from langchain_cloudflare_playground.client.options import (
    ClientOptions,
    check_ca_bundle,
    resolve_base_url,
)
from langchain_cloudflare_playground.client.router import Router, http_rung
from langchain_cloudflare_playground.client.sessions import SessionCache, SessionStore
from langchain_cloudflare_playground.client.transport_ladder import RUNGS, TransportLadder
from langchain_cloudflare_playground.client.transports.aiohttp_transport import redact_url
from langchain_cloudflare_playground.collected_warnings import collected_warnings
from langchain_cloudflare_playground.doctor import network
from langchain_cloudflare_playground.doctor.cache import cache_check
from langchain_cloudflare_playground.doctor.records import CHAT, Check, Diagnosis

if TYPE_CHECKING:
    from pathlib import Path

    from langchain_cloudflare_playground.client.playground import PlaygroundClient
    from langchain_cloudflare_playground.client.transport_ladder import Rung

__all__ = ["DoctorSettings", "diagnose"]

_PROMPT = "Reply with one word: OK"


@dataclass(frozen=True)
class DoctorSettings:
    """What to check and how (the command line's options).

    Attributes:
        base_url: The playground (default: ``$CF_PLAYGROUND_URL``, then the live site).
        transport: ``"auto"`` checks every installed rung; a rung's name checks that one only.
        wire_format: ``"auto"``, ``"agents"`` or ``"http"``, as the client takes it.
        timeout: Seconds allowed for each network step.
        proxy: An HTTP proxy URL (its password is never shown).
        verify: ``True``, ``False``, or a PEM file of CA certificates to trust.
        cache_path: The session cache file (default: the client's).
    """

    base_url: str | None = None
    transport: str = "auto"
    wire_format: str = "auto"
    timeout: float = 20.0
    proxy: str | None = None
    verify: bool | str = True
    cache_path: Path | None = None


async def diagnose(settings: DoctorSettings) -> Diagnosis:
    """Run every check against the playground; never raises for a failure of the site.

    Raises:
        ValueError: ``settings.verify`` names a file that is not a readable PEM CA bundle
            (checked first: every check above TCP would fail on it alike).
    """
    base_url = resolve_base_url(settings.base_url)
    if isinstance(settings.verify, str):
        check_ca_bundle(settings.verify)
    with collected_warnings() as warnings:
        # The cache first, as it is found: the chat below may rewrite it.
        cache, cookie_values = cache_check(base_url, settings.cache_path)
        checks = await _Doctor(base_url, settings).run()
    # Cookies the run itself got (a refreshed session) are secrets too, and so is the proxy
    # password in either spelling.
    _, cookies_after = cache_check(base_url, settings.cache_path)
    password = urlsplit(settings.proxy).password if settings.proxy else None
    passwords = {password, unquote(password)} if password else set()
    secrets = {secret for secret in cookie_values | cookies_after | passwords if secret}
    return Diagnosis(
        base_url=base_url,
        checks=(*checks, cache),
        about=_about(settings),
        log=tuple(warnings),
        secrets=frozenset(secrets),
    )


def _about(settings: DoctorSettings) -> dict[str, object]:
    from importlib.metadata import PackageNotFoundError, version  # noqa: PLC0415

    try:
        package = version("cloudflare-playground")
    except PackageNotFoundError:
        package = "unknown"
    return {
        "package": package,
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "transport": settings.transport,
        "wire_format": settings.wire_format,
        "proxy": redact_url(settings.proxy),
        "ca_bundle": settings.verify if isinstance(settings.verify, str) else None,
        "impersonate_installed": is_installed("curl_cffi"),
        "browser_installed": is_installed("nodriver"),
    }


class _Doctor:
    """One run of the checks; what each layer found is kept for the layers above it."""

    def __init__(self, base_url: str, settings: DoctorSettings) -> None:
        self.site = network.Site(base_url)
        self.settings = settings
        self.timeout = settings.timeout
        self.checks: list[Check] = []
        from langchain_cloudflare_playground.client.browser import (  # noqa: PLC0415
            browser_available,
        )

        # What the full ladder would miss here, and so what to do when the edge refuses.
        self.ladder = TransportLadder.for_choice("auto", browser_allowed=browser_available())
        self.climb = self._climb_advice()

    def _climb_advice(self) -> str:
        pinned = self.settings.transport
        if pinned != "auto":
            return (
                f"the edge refuses the {pinned} transport: drop --transport {pinned}"
                " (auto climbs to a rung that gets in)"
            )
        missing = self.ladder.missing
        if "impersonate" in missing:
            return f"the edge refuses Python's TLS handshake: {missing['impersonate']}"
        if "browser" in missing:
            return f"the edge wants a browser: {missing['browser']}"
        return "pass the challenge by hand: `cf-playground session refresh --headful`, then retry"

    def _skip_rest(self, names: tuple[str, ...], why: str) -> None:
        self.checks.extend(Check(name, "skipped", why) for name in names)

    async def run(self) -> list[Check]:
        if self.settings.proxy:
            why = "the proxy makes the connection (--proxy)"
            self._skip_rest(("name resolves", "tcp connect", "tls"), why)
        elif not await self._connection():
            failed = next(check.name for check in self.checks if check.verdict == "failed")
            self._skip_rest(
                ("page", "transport rungs", "wire format", "model list", CHAT),
                f"no connection (see {failed})",
            )
            return self.checks
        pinned = self.settings.transport
        if pinned in self.ladder.missing:
            self.checks.append(
                Check(
                    "transport rungs",
                    "failed",
                    f"--transport {pinned}: not installed or not allowed",
                    advice=self.ladder.missing[pinned],
                )
            )
            self._skip_rest(("page", "wire format", "model list", CHAT), f"no {pinned} rung")
            return self.checks
        options = ClientOptions.from_keywords(
            {
                "timeout": self.timeout,
                "proxy": self.settings.proxy,
                "verify": self.settings.verify,
                "max_retries": 0,
            },
            owner="doctor",
        )
        # Browser-like headers and the cached session, as a chat sends them; no browser is
        # started for a session here (the browser rung has a check of its own).
        sessions = SessionStore(self.site.base_url, cache=SessionCache(self.settings.cache_path))
        router = Router(self.site.base_url, options, sessions)
        try:
            headers = (await sessions.get()).request_headers()
            probe = network.Probe(self.site, headers, self.timeout, self.climb)
            first = "direct" if self.settings.transport == "auto" else self.settings.transport
            page_rung: Rung = http_rung() if first == "browser" else first  # type: ignore[assignment]
            self.checks.append(await network.page_check(router.transport(page_rung), probe))
            working = await self._rungs(router, probe)
            wire_format = await self._wire_format(router, probe, sessions, working)
        finally:
            await router.aclose()
        rung = working.get(wire_format or "")
        await self._models_and_chat(rung, wire_format)
        return self.checks

    async def _connection(self) -> bool:
        """Name, TCP and TLS; ``False`` when nothing above them can work."""
        resolved, addresses = await network.resolve_check(self.site, timeout=self.timeout)
        self.checks.append(resolved)
        if not addresses:
            self._skip_rest(("tcp connect", "tls"), "the name does not resolve")
            return False
        # Each address in turn, as a client connecting by name does (an unreachable IPv6
        # address first must not hide a working IPv4 one).
        for address in addresses:
            connected = await network.tcp_check(self.site, address, timeout=self.timeout)
            if connected.verdict == "ok":
                break
        self.checks.append(connected)
        if connected.verdict != "ok":
            self.checks.append(Check("tls", "skipped", "no TCP connection"))
            return False
        self.checks.append(
            await network.tls_check(
                self.site, verify=self.settings.verify, timeout=self.timeout, climb=self.climb
            )
        )
        return True

    async def _rungs(self, router: Router, probe: network.Probe) -> dict[str, Rung]:
        """Each rung's WebSocket upgrade and HTTP request; the first rung that works for each.

        The browser rung costs seconds and a Chromium, so ``auto`` tries it only as the ladder
        climbs to it: when the edge refused the WebSocket of the rung below. The rungs below
        cost milliseconds, and each is checked, for the report.
        """
        working: dict[str, Rung] = {}
        pinned = self.settings.transport
        below: Check | None = None  # the WebSocket check of the last rung tried
        for rung in RUNGS:
            names = (f"websocket via {rung}", f"http via {rung}")
            if pinned not in ("auto", rung):
                self._skip_rest(names, f"--transport {pinned}")
                continue
            if pinned == "auto" and rung in self.ladder.missing:
                missing = f"not installed or not allowed: {self.ladder.missing[rung]}"
                self.checks.append(Check(names[0], "skipped", missing))
                self.checks.append(Check(names[1], "skipped", "not installed or not allowed"))
                continue
            if pinned == "auto" and rung == "browser" and _no_refusal(below):
                self.checks.append(Check(names[0], "skipped", _no_climb(below)))
            elif self.settings.wire_format == "http":
                self.checks.append(Check(names[0], "skipped", "--wire-format http"))
            else:
                transport = router.transport(rung)
                upgraded = below = await network.websocket_check(rung, transport, probe)
                self.checks.append(upgraded)
                if upgraded.verdict == "ok":
                    working.setdefault("agents", rung)
            if rung == "browser":
                self.checks.append(
                    Check(
                        names[1],
                        "skipped",
                        f"the relay carries WebSockets only; its HTTP goes by the {http_rung()}"
                        " rung",
                    )
                )
                continue
            answered = await network.http_check(rung, router.transport(rung), probe)
            self.checks.append(answered)
            if answered.verdict == "ok":
                working.setdefault("http", rung)
        return working

    async def _wire_format(
        self,
        router: Router,
        probe: network.Probe,
        sessions: SessionStore,
        working: dict[str, Rung],
    ) -> str | None:
        """``"agents"`` or ``"http"``: what the site speaks (``None``: not found out)."""
        asked = self.settings.wire_format
        if "agents" in working and asked != "http":
            first_frame = next(
                check.facts.get("first_frame")
                for check in self.checks
                if check.name == f"websocket via {working['agents']}"
            )
            self.checks.append(
                Check(
                    "wire format",
                    "ok",
                    f"Agents WebSocket (first frame {first_frame})",
                    facts={"wire_format": "agents"},
                )
            )
            return "agents"
        no_route = any(
            check.name.startswith("websocket via") and "HTTP 404" in check.why
            for check in self.checks
        )
        if asked == "agents" and no_route:
            self.checks.append(
                Check(
                    "wire format",
                    "failed",
                    "--wire-format agents, but this site has no Agents WebSocket route",
                    advice="drop --wire-format agents (auto falls back to the HTTP wire formats),"
                    " or check the URL (--base-url)",
                )
            )
            return None
        if asked == "agents" or not (no_route or asked == "http"):
            self.checks.append(
                Check("wire format", "skipped", "no rung got through to ask (see above)")
            )
            return None
        rung = working.get("http")
        if rung is None:
            self.checks.append(
                Check("wire format", "skipped", "no rung got an HTTP answer (see above)")
            )
            return None
        spoken = await network.http_wire_format_check(router.transport(rung), probe, sessions)
        self.checks.append(spoken)
        return "http" if spoken.verdict == "ok" else None

    async def _models_and_chat(self, rung: Rung | None, wire_format: str | None) -> None:
        """The model list and one short chat, through the first rung that works."""
        from langchain_cloudflare_playground.client.playground import (  # noqa: PLC0415
            PlaygroundClient,
        )

        async with PlaygroundClient(
            self.site.base_url,
            transport=rung or self.settings.transport,
            wire_format=wire_format or self.settings.wire_format,
            timeout=self.timeout,
            total_timeout=4 * self.timeout,
            max_retries=0,
            proxy=self.settings.proxy,
            verify=self.settings.verify,
            session_cache=SessionCache(self.settings.cache_path),
        ) as client:
            self.checks.append(await self._models(client))
            self.checks.append(await self._chat(client, rung, wire_format))

    async def _models(self, client: PlaygroundClient) -> Check:
        from langchain_cloudflare_playground.client.defaults import (  # noqa: PLC0415
            DEFAULT_MODEL,
        )

        start = time.monotonic()
        models = await client.alist_models(refresh=True)
        seconds = time.monotonic() - start
        failure = client.models.fetch_error
        if failure is not None:
            return network.error_check("model list", failure, seconds, climb=self.climb)
        ids = [model.id for model in models]
        facts = {"chat_models": len(ids), "default_model": DEFAULT_MODEL}
        if DEFAULT_MODEL not in ids:
            return Check(
                "model list",
                "failed",
                f"{len(ids)} chat models, but not the default model {DEFAULT_MODEL}",
                seconds,
                facts,
                "choose a model of `cf-playground models` (`cf-playground chat --model ...`, or"
                " model= in code); a newer version of this package may know the new default:"
                " update it from its repository (git pull in your checkout, then pip install"
                " '.[all]')",
            )
        return Check(
            "model list",
            "ok",
            f"{len(ids)} chat models, the default model {DEFAULT_MODEL} among them",
            seconds,
            facts,
        )

    async def _chat(
        self, client: PlaygroundClient, rung: Rung | None, wire_format: str | None
    ) -> Check:
        start = time.monotonic()
        first_token: float | None = None
        characters = 0
        try:
            async for event in client.astream_chat(_PROMPT, max_tokens=16):
                if isinstance(event, (TextDelta, ReasoningDelta)):
                    if first_token is None:
                        first_token = time.monotonic() - start
                    characters += len(event.text) if isinstance(event, TextDelta) else 0
        except PlaygroundError as exc:
            return network.error_check(CHAT, exc, time.monotonic() - start, climb=self.climb)
        total = time.monotonic() - start
        through = f"the {rung} rung" if rung else f"transport {self.settings.transport}"
        return Check(
            CHAT,
            "ok",
            f"first token after {first_token or total:.2f} s, done in {total:.2f} s,"
            f" {characters} characters, through {through} ({wire_format or 'wire format auto'})",
            total,
            {
                "first_token_seconds": None if first_token is None else round(first_token, 3),
                "total_seconds": round(total, 3),
                "characters": characters,
                "rung": rung,
                "wire_format": wire_format,
            },
        )


def _no_refusal(below: Check | None) -> TypeGuard[Check]:
    """Whether the WebSocket check of the rung below got anything but a refusal by the edge."""
    return below is not None and not below.facts.get("edge_refusal")


def _no_climb(below: Check) -> str:
    """Why the browser rung was not tried: the rung below was not refused by the edge."""
    rung = below.name.removeprefix("websocket via ")
    seen = {
        "ok": "got in",
        "refused": "got an answer, not the edge's refusal",  # a 404: no such route here
        "failed": "failed, but was not refused by the edge",
    }.get(below.verdict, "was not refused by the edge")
    return f"not tried: the {rung} rung {seen} (see above); auto climbs to it only past a refusal"

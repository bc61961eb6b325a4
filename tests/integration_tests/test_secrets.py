"""Secrets stay secret: the session's cookies and headers, and a proxy's password.

Each secret comes into the session the way users get one: the caller's ``cookies=``/``headers=``,
a cached session, or a ``Set-Cookie`` from the server. The tests drive real calls that succeed,
fail and break mid-stream, first checking that the secret really reached the server (so nothing
passes because it was never sent), then that it shows up in none of: the logs of every logger at
DEBUG, the ``repr``/``str`` of the objects that hold it, the exceptions raised and their chains,
LangChain serialisation, LlamaIndex's ``dict()``, and VCR cassettes.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import traceback
from typing import TYPE_CHECKING, Any

import pytest
import vcr
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.load import dumpd, dumps

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import (
    ChallengeError,
    PermissionDeniedError,
    PlaygroundAPIError,
    PlaygroundClient,
    PlaygroundConnectionError,
    PlaygroundError,
    PlaygroundProtocolError,
    PlaygroundStreamError,
    PlaygroundTimeoutError,
    RateLimitError,
    ServerError,
    TextDelta,
)
from langchain_cloudflare_playground.client.retries import RetryPolicy
from langchain_cloudflare_playground.client.sessions import SessionCache, SiteSession
from langchain_cloudflare_playground.client.transports.aiohttp_transport import AiohttpTransport
from langchain_cloudflare_playground.testing import vcr_config
from tests.reference_server import Fault, free_port

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from tests.reference_server import RecordedRequest, ReferenceServer

COOKIE = "cf_clearance"
SECRET_COOKIE = "SECRET-cookie-9f2c41d7e0"
SECRET_HEADER = "SECRET-header-5be1a0c3f8"
SECRET_SET_COOKIE = "SECRET-set-cookie-77ad2e91"
SECRET_PROXY_PASSWORD = "SECRET-proxy-3c0d6b55"
SECRETS = (SECRET_COOKIE, SECRET_HEADER, SECRET_SET_COOKIE, SECRET_PROXY_PASSWORD)
AUTHORIZATION = f"Bearer {SECRET_HEADER}"
# Every logger that could see a request: the package's, aiohttp's (client and the reference
# server's, which runs in this process), asyncio's, vcrpy's, and the root.
LOGGERS = (
    None,
    "langchain_cloudflare_playground",
    "aiohttp",
    "aiohttp.client",
    "aiohttp.access",
    "aiohttp.server",
    "aiohttp.web",
    "aiohttp.websocket",
    "aiohttp.internal",
    "asyncio",
    "vcr",
)
WAYS = ["caller", "cache", "set-cookie"]


# -- checks ------------------------------------------------------------------------------------


def assert_no_secret(where: str, *shown: object) -> None:
    for item in shown:
        text = item if isinstance(item, str) else repr(item)
        for secret in SECRETS:
            if secret in text:
                at = text.index(secret)
                context = text[max(0, at - 300) : at + len(secret) + 50]
                pytest.fail(f"{where} shows a secret: ...{context}...")


def error_texts(error: BaseException) -> list[str]:
    """What an error tracker or a log line could show of ``error`` and every error it chains."""
    texts = ["".join(traceback.format_exception(error))]
    seen: set[int] = set()
    pending: list[BaseException | None] = [error]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        texts += [type(current).__name__, str(current), repr(current), repr(current.args)]
        texts += [str(arg) for arg in current.args]
        if isinstance(current, PlaygroundError):
            texts.append(repr(vars(current)))  # body, partial text, message
        pending += [current.__cause__, current.__context__]
    return texts


def assert_errors_keep_secrets(errors: list[BaseException]) -> None:
    assert errors
    for error in errors:
        assert_no_secret(f"{type(error).__name__} (or its chain)", *error_texts(error))


def assert_logs_keep_secrets(caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records  # the calls did log (retries, refusals): there was something to leak
    assert_no_secret("the logs", caplog.text, *(r.getMessage() for r in caplog.records))


@pytest.fixture
def debug_logs(caplog):
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    assert logging.getLogger("aiohttp.client").isEnabledFor(logging.DEBUG)
    return caplog


# -- putting the secret into the session -------------------------------------------------------


def sent_secrets(way: str) -> tuple[str, str | None]:
    """The cookie value and the Authorization header a session of ``way`` sends."""
    if way == "set-cookie":
        return SECRET_SET_COOKIE, None
    return SECRET_COOKIE, AUTHORIZATION


def secret_session_options(way: str, base_url: str) -> dict[str, Any]:
    """Client options for a session whose secret comes ``way``; caches it for ``"cache"``."""
    if way == "caller":
        return {"cookies": {COOKIE: SECRET_COOKIE}, "headers": {"Authorization": AUTHORIZATION}}
    if way == "cache":
        cached = SiteSession(
            user_agent="Mozilla/5.0 Chrome/156",
            headers={"Authorization": AUTHORIZATION, "Accept": "*/*"},
            cookies={COOKIE: SECRET_COOKIE},
            cookie_expiries={COOKIE: 4_000_000_000.0},
            source="browser",
        )
        assert SessionCache().save(base_url, cached)
    return {}


def assert_reached(request: RecordedRequest, way: str) -> None:
    """The secret was really sent: a test of where it is not would otherwise prove nothing."""
    cookie, authorization = sent_secrets(way)
    assert request.cookies.get(COOKIE) == cookie
    if authorization is not None:
        assert request.headers.get("Authorization") == authorization


def assert_objects_keep_secrets(client: PlaygroundClient, args: SiteSession, way: str) -> None:
    cookie, authorization = sent_secrets(way)
    assert args.cookies[COOKIE] == cookie  # the args shown below do hold the secret
    if authorization is not None:
        assert args.headers["Authorization"] == authorization
    cache = SessionCache()
    assert_no_secret(
        "a repr or str",
        repr(client),
        str(client),
        repr(client.sessions),
        str(client.sessions),
        repr(client._router),
        str(client._router),
        repr(cache),
        str(cache),
        repr(args),
        str(args),
        f"{args}",
        repr([args]),
        repr(cache.entries()),
    )


@contextlib.asynccontextmanager
async def secret_client(
    server_url: str, way: str, **options: Any
) -> AsyncIterator[PlaygroundClient]:
    """A client whose session's secret comes ``way``; one quick retry unless told otherwise."""
    options = {"timeout": 5, "max_retries": 1, **secret_session_options(way, server_url), **options}
    async with PlaygroundClient(server_url, **options) as client:
        client.retry_policy = RetryPolicy(options["max_retries"], initial_delay=0.01)
        yield client


async def expect(error_type: type[BaseException], errors: list[BaseException], call: Any) -> None:
    with pytest.raises(error_type) as info:
        await call
    errors.append(info.value)


async def stream_text(client: PlaygroundClient, prompt: str) -> str:
    return "".join([e.text async for e in client.astream_chat(prompt) if isinstance(e, TextDelta)])


def assert_private_cache_file(way: str) -> None:
    """The cache is the one place a session's secret is kept, and only the session's."""
    path = SessionCache().path
    if way == "caller" and not path.exists():
        return  # nothing was cached: the caller's own values never are
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    text = path.read_text()
    if way == "caller":
        assert SECRET_COOKIE not in text  # the caller's own values are never cached
        assert SECRET_HEADER not in text
    else:
        assert sent_secrets(way)[0] in text


# -- the HTTP wire formats ---------------------------------------------------------------------


@pytest.mark.parametrize("transport", ["auto", "impersonate"])
@pytest.mark.parametrize("way", WAYS)
async def test_http_calls_keep_the_session_secret(
    server: ReferenceServer, way, debug_logs, transport
):
    errors: list[BaseException] = []
    async with secret_client(server.url, way, wire_format="http", transport=transport) as client:
        if way == "set-cookie":
            server.push(Fault(set_cookies={COOKIE: SECRET_SET_COOKIE}))
        first = await client.achat("hello")
        assert first.text.startswith("Echo: hello")
        text = await stream_text(client, "stream please")
        assert text.startswith("Echo: stream please")
        assert_reached(server.inference_requests[-1], way)
        assert_private_cache_file(way)

        server.push(Fault(status=429, retry_after="0"), Fault(status=429, retry_after="0"))
        await expect(RateLimitError, errors, client.achat("rate limited"))
        server.push(Fault(status=500), Fault(status=500))
        await expect(ServerError, errors, client.achat("server error"))
        server.push(Fault(cut_after=2))
        await expect(PlaygroundStreamError, errors, stream_text(client, "cut mid-way"))
        server.push(Fault(status=500), Fault(status=500))
        with pytest.raises(ServerError) as sync_error:
            client.chat("sync twin")  # on the background loop's thread
        errors.append(sync_error.value)
        assert_reached(server.inference_requests[-1], way)
        assert_objects_keep_secrets(client, await client.sessions.get(), way)

        if transport == "auto":
            # Refused: the ladder climbs to the impersonating transport, the session is dropped
            # and replaced (by default headers here), and every rung is refused: one summary.
            server.push(*[Fault(status=403)] * 3)
            await expect(ChallengeError, errors, client.achat("forbidden"))
            assert client._router.ladder.current == "impersonate"
        else:  # pinned: the session is dropped and replaced, then refused again
            server.push(Fault(status=403), Fault(status=403))
            await expect(PermissionDeniedError, errors, client.achat("forbidden"))
        server.push(Fault(challenge=True), Fault(challenge=True))
        await expect(ChallengeError, errors, client.achat("challenged"))
        assert server.pending_faults() == 0
        assert_no_secret("the client after a refusal", repr(client), repr(client.sessions))
    assert_errors_keep_secrets(errors)
    assert "retry 1 of 1" in debug_logs.text
    assert "refused the session" in debug_logs.text
    assert_logs_keep_secrets(debug_logs)


async def test_cookies_set_on_a_refusal_stay_secret(sse_server, debug_logs):
    """Cloudflare sets cookies on a 429 or a challenge too; the error must not carry them."""
    errors: list[BaseException] = []
    async with secret_client(sse_server.url, "caller", wire_format="http", max_retries=0) as client:
        sse_server.push(Fault(status=429, set_cookies={"__cf_bm": SECRET_SET_COOKIE}))
        await expect(RateLimitError, errors, client.achat("rate limited"))
        await client.achat("after")
        assert sse_server.inference_requests[-1].cookies["__cf_bm"] == SECRET_SET_COOKIE
        assert_objects_keep_secrets(client, await client.sessions.get(), "caller")
    assert_errors_keep_secrets(errors)
    assert_logs_keep_secrets(debug_logs)


@pytest.mark.parametrize("way", ["caller", "cache"])
async def test_an_unreadable_response_keeps_the_session_secret(sse_server, way, debug_logs):
    errors: list[BaseException] = []
    loop = Fault(status=307, body=b"", headers={"Location": "/api/inference"})
    sse_server.push(*[loop] * 11)  # aiohttp follows ten redirects, then gives up
    async with secret_client(sse_server.url, way, wire_format="http", max_retries=0) as client:
        await expect(PlaygroundProtocolError, errors, client.achat("round and round"))
    assert_reached(sse_server.inference_requests[-1], way)
    assert_errors_keep_secrets(errors)
    assert_logs_keep_secrets(debug_logs)


# -- the Agents frames over the WebSocket ------------------------------------------------------


async def prime_cache_with_set_cookie(server: ReferenceServer) -> None:
    """A session whose cookie the server set (over HTTP), cached for the WebSocket client."""
    server.push(Fault(set_cookies={COOKIE: SECRET_SET_COOKIE}))
    async with PlaygroundClient(server.url, wire_format="http", timeout=5) as client:
        await client.achat("get a cookie")


async def refuse_upgrades(client: PlaygroundClient, server: ReferenceServer) -> list[BaseException]:
    """Refused upgrades (429, 500, 403, a challenge), each setting a cookie as Cloudflare does.

    aiohttp's handshake error holds the request's headers (cookies included) and the response's
    ``Set-Cookie``.
    """
    errors: list[BaseException] = []
    refusal = {"set_cookies": {"__cf_bm": SECRET_SET_COOKIE}}
    server.push(
        Fault(status=429, retry_after="0", **refusal),
        Fault(status=429, retry_after="0", **refusal),
        route="agents",
    )
    await expect(RateLimitError, errors, client.achat("rate limited"))
    server.push(Fault(status=500, **refusal), Fault(status=500, **refusal), route="agents")
    await expect(ServerError, errors, client.achat("server error"))
    server.push(Fault(status=403, **refusal), Fault(status=403, **refusal), route="agents")
    await expect(ChallengeError, errors, client.achat("forbidden"))
    server.push(Fault(challenge=True), Fault(challenge=True), route="agents")
    await expect(ChallengeError, errors, client.achat("challenged"))
    return errors


@pytest.mark.parametrize("transport", ["direct", "impersonate"])
@pytest.mark.parametrize("way", WAYS)
async def test_websocket_calls_keep_the_session_secret(sse_server, way, debug_logs, transport):
    server = sse_server
    if way == "set-cookie":
        await prime_cache_with_set_cookie(server)
    async with secret_client(server.url, way, wire_format="agents", transport=transport) as client:
        server.push(Fault(websocket=True, reply=["Hi", " there"]), route="agents")
        assert (await client.achat("hello")).text == "Hi there"
        upgrade = server.requests[-1]
        assert upgrade.path.startswith("/agents/playground/")
        assert_reached(upgrade, way)
        assert_objects_keep_secrets(client, await client.sessions.get(), way)
        await refuse_upgrades(client, server)
        assert_no_secret("the client after a refusal", repr(client), repr(client.sessions))
    assert "retry 1 of 1" in debug_logs.text
    assert_logs_keep_secrets(debug_logs)


@pytest.mark.parametrize("transport", ["direct", "impersonate"])
@pytest.mark.parametrize("way", WAYS)
async def test_refused_websocket_upgrades_keep_the_session_secret(
    sse_server, way, debug_logs, transport
):
    server = sse_server
    if way == "set-cookie":
        await prime_cache_with_set_cookie(server)
    async with secret_client(server.url, way, wire_format="agents", transport=transport) as client:
        errors = await refuse_upgrades(client, server)
    upgrades = [r for r in server.requests if r.path.startswith("/agents/")]
    assert_reached(upgrades[0], way)
    assert_errors_keep_secrets(errors)
    assert_logs_keep_secrets(debug_logs)


@pytest.fixture
def upgrade_headers(monkeypatch) -> list[dict[str, str]]:
    """The headers of every WebSocket upgrade the client opens (the Agents server keeps none)."""
    sent: list[dict[str, str]] = []
    connect = AiohttpTransport.open_websocket

    async def recording_connect(self, request):
        sent.append(dict(request.headers))
        return await connect(self, request)

    monkeypatch.setattr(AiohttpTransport, "open_websocket", recording_connect)
    return sent


@pytest.mark.parametrize("way", ["caller", "cache"])
async def test_the_agents_server_conversation_keeps_the_session_secret(
    agents_server, way, upgrade_headers, debug_logs
):
    errors: list[BaseException] = []
    async with secret_client(agents_server.url, way, wire_format="agents") as client:
        assert (await client.achat("hello")).text
        assert "last user: stream please" in await stream_text(client, "stream please")
        assert await client.alist_models()
        assert upgrade_headers
        for headers in upgrade_headers:
            assert f"{COOKIE}={SECRET_COOKIE}" in headers["Cookie"]
            assert headers["Authorization"] == AUTHORIZATION
        assert_objects_keep_secrets(client, await client.sessions.get(), way)

        await expect(RateLimitError, errors, client.achat("[rate-limit]"))
        await expect(PlaygroundAPIError, errors, client.achat("[error-before-text]"))
        await expect(PlaygroundStreamError, errors, stream_text(client, "[error-after-text]"))
    async with secret_client(
        agents_server.url, way, wire_format="agents", timeout=0.5, max_retries=0
    ) as impatient:
        # Silent past two reconnects to the room (resumed, with the session), then the timeout.
        await expect(PlaygroundTimeoutError, errors, impatient.achat("[slow:5000]"))
    assert_errors_keep_secrets(errors)
    assert "3021: rate limiting" in debug_logs.text  # the retry was logged, with the error
    assert_logs_keep_secrets(debug_logs)


@pytest.mark.parametrize("transport", ["direct", "impersonate"])
async def test_a_proxy_password_stays_out_of_errors_and_logs(server, debug_logs, transport):
    dead_proxy = f"http://user:{SECRET_PROXY_PASSWORD}@127.0.0.1:{free_port()}"
    errors: list[BaseException] = []
    async with PlaygroundClient(
        server.url, proxy=dead_proxy, wire_format="http", transport=transport
    ) as client:
        client.retry_policy = RetryPolicy(max_retries=1, initial_delay=0.01)
        await expect(PlaygroundConnectionError, errors, client.achat("through a dead proxy"))
        assert "proxy" in str(errors[-1])
        used = client._router.transport(transport)
        assert_no_secret("the client", repr(client), str(client), repr(client._router), repr(used))
        assert used.proxy == dead_proxy  # the client does hold the password
    assert server.inference_requests == []
    assert_errors_keep_secrets(errors)
    assert_logs_keep_secrets(debug_logs)


# -- cassettes ---------------------------------------------------------------------------------


def recorded_cassette(path) -> str:
    text = path.read_text()
    assert_no_secret(f"the cassette {path.name}", text)
    return text


@pytest.mark.parametrize("transport", ["direct", "impersonate"])
@pytest.mark.parametrize("way", WAYS)
async def test_an_http_cassette_keeps_the_session_secret(server, way, tmp_path, transport):
    cassette = tmp_path / "http.yaml"
    with vcr.VCR(**vcr_config()).use_cassette(str(cassette), record_mode="all"):
        async with secret_client(
            server.url, way, wire_format="http", transport=transport
        ) as client:
            # The server sets a cookie on the first reply, as Cloudflare does.
            set_cookies = {"__cf_bm": SECRET_SET_COOKIE}
            if way == "set-cookie":
                set_cookies[COOKIE] = SECRET_SET_COOKIE
            server.push(Fault(set_cookies=set_cookies))
            await client.achat("first")
            await client.achat("second")
    assert_reached(server.inference_requests[-1], way)
    assert server.inference_requests[-1].cookies["__cf_bm"] == SECRET_SET_COOKIE
    text = recorded_cassette(cassette)
    assert text.count("/api/inference") == 2  # both conversations are in it
    # (vcrpy's aiohttp patch keeps the JSON body as YAML; the cassette transport keeps its text)
    assert "content: second" in text or '"content": "second"' in text
    assert "Set-Cookie" not in text
    assert "Cookie" not in text
    assert "Authorization" not in text


@pytest.mark.parametrize("way", WAYS)
async def test_a_websocket_cassette_keeps_the_session_secret(sse_server, way, tmp_path):
    server = sse_server
    if way == "set-cookie":
        await prime_cache_with_set_cookie(server)
    cassette = tmp_path / "websocket.yaml"
    with vcr.VCR(**vcr_config()).use_cassette(str(cassette), record_mode="all"):
        async with secret_client(server.url, way, wire_format="agents") as client:
            server.push(Fault(websocket=True, reply=["recorded ", "reply"]), route="agents")
            assert (await client.achat("hello")).text == "recorded reply"
    assert_reached(server.requests[-1], way)
    text = recorded_cassette(cassette)
    assert "/agents/playground/cassette/chat" in text
    assert "recorded " in text


@pytest.mark.parametrize("way", ["caller", "cache"])
async def test_an_agents_server_cassette_keeps_the_session_secret(
    agents_server, way, tmp_path, upgrade_headers
):
    cassette = tmp_path / "agents.yaml"
    with vcr.VCR(**vcr_config()).use_cassette(str(cassette), record_mode="all"):
        async with secret_client(agents_server.url, way, wire_format="agents") as client:
            reply = await client.achat("hello")
    assert upgrade_headers[-1]["Authorization"] == AUTHORIZATION
    assert SECRET_COOKIE in upgrade_headers[-1]["Cookie"]
    assert reply.text
    text = recorded_cassette(cassette)
    assert "/agents/playground/cassette/chat" in text
    assert "cf_agent_use_chat_response" in text  # the frames were recorded


# -- the framework adapters --------------------------------------------------------------------


class _SeenByCallbacks(BaseCallbackHandler):
    """What a tracer (LangSmith, say) is given about the model and the call."""

    def __init__(self) -> None:
        self.seen: list[Any] = []

    def on_chat_model_start(self, serialized, messages, **kwargs):
        self.seen.append((serialized, kwargs))


def secret_chat_model(base_url: str) -> ChatCloudflarePlayground:
    """A LangChain model whose session cookies and headers come through ``client_options``."""
    options = secret_session_options("caller", base_url)
    return ChatCloudflarePlayground(
        base_url=base_url,
        wire_format="http",
        max_retries=0,
        client_options={**options, "session_cache": False},
    )


async def test_langchain_calls_keep_the_session_secret(sse_server, debug_logs):
    model = secret_chat_model(sse_server.url)
    assert (await model.ainvoke("hello")).content
    assert [c async for c in model.astream("stream please")]
    assert_reached(sse_server.inference_requests[-1], "caller")
    errors: list[BaseException] = []
    sse_server.push(Fault(status=429))
    await expect(RateLimitError, errors, model.ainvoke("again"))
    sse_server.push(Fault(cut_after=2))
    await expect(PlaygroundStreamError, errors, model.ainvoke("cut mid-way"))
    assert_errors_keep_secrets(errors)
    assert_logs_keep_secrets(debug_logs)
    assert_no_secret("the model's client", repr(model.client), model._identifying_params)


async def test_langchain_serialisation_keeps_the_session_secret(sse_server):
    model = secret_chat_model(sse_server.url)
    callbacks = _SeenByCallbacks()
    assert (await model.ainvoke("hello", config={"callbacks": [callbacks]})).content
    assert_reached(sse_server.inference_requests[-1], "caller")
    assert callbacks.seen
    assert_no_secret("what callbacks (tracers) are given", callbacks.seen)
    assert_no_secret("LangChain serialisation", dumps(model), dumpd(model), model.to_json())
    assert_no_secret("the model", repr(model), str(model), model._get_ls_params())


def test_llama_index_serialisation_keeps_the_proxy_password():
    from llama_index_cloudflare_playground import CloudflarePlayground

    llm = CloudflarePlayground(proxy=f"http://user:{SECRET_PROXY_PASSWORD}@127.0.0.1:3128")
    assert SECRET_PROXY_PASSWORD in llm.client.options.proxy  # it does carry the password
    assert_no_secret(
        "LlamaIndex serialisation",
        llm.dict(),
        llm.model_dump(),
        llm.model_dump_json(),
        llm.to_dict(),
        llm.to_json(),
        llm.client,
    )


def test_llama_index_repr_keeps_the_proxy_password():
    from llama_index_cloudflare_playground import CloudflarePlayground

    llm = CloudflarePlayground(proxy=f"http://user:{SECRET_PROXY_PASSWORD}@127.0.0.1:3128")
    assert_no_secret("the LlamaIndex LLM", repr(llm), str(llm))


async def test_llama_index_errors_keep_the_proxy_password(server, debug_logs):
    from llama_index_cloudflare_playground import CloudflarePlayground

    llm = CloudflarePlayground(
        base_url=server.url,
        wire_format="http",
        max_retries=1,
        proxy=f"http://user:{SECRET_PROXY_PASSWORD}@127.0.0.1:{free_port()}",
    )
    llm.client.retry_policy = RetryPolicy(max_retries=1, initial_delay=0.01)
    errors: list[BaseException] = []
    await expect(PlaygroundConnectionError, errors, llm.acomplete("through a dead proxy"))
    assert server.inference_requests == []
    assert "cannot connect to the proxy" in debug_logs.text  # the retry was logged, with the error
    assert_errors_keep_secrets(errors)
    assert_logs_keep_secrets(debug_logs)

"""A reference playground server for the two HTTP wire formats, with fault injection.

It speaks ``POST /api/inference`` and ``GET /api/models`` byte for byte as described in
``docs/wire-formats.md`` (``"sse"``: server-sent events; ``"data-stream"``: the AI SDK v4 data
stream), and replies with the scripted model of ``tests/scripted_model.py`` (``echo_reply``): it
echoes what it received, so a test can see the system prompt, the history and the model reach the
server, and follows JSON, ReAct and tool-format instructions as the Agents test server's model
does.

Faults are queued per route and consumed one per request, in order::

    server.push(Fault(status=429, retry_after="0"), Fault(cut_after=3))

The server runs its own event loop in a thread, so synchronous tests, asynchronous tests and
subprocesses (the command line) can all talk to it. Run it by hand with::

    python -m tests.reference_server --wire-format data-stream --port 8787
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import socket
import threading
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Literal

from aiohttp import WSMsgType, web

from tests.loop_thread import LoopThreadServer
from tests.scripted_model import HttpWireFormatName, echo_reply, http_reasoning

CONTENT_TYPES: dict[HttpWireFormatName, str] = {
    "sse": "text/event-stream",
    "data-stream": "text/plain; charset=utf-8",
}
CHALLENGE_PAGE = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>'
    '<meta http-equiv="refresh" content="390"></head><body><div class="main-wrapper">'
    "<h1>playground.ai.cloudflare.com</h1><p>Verifying you are human. This may take a few"
    ' seconds.</p><script src="/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1">'
    "</script></div></body></html>"
)
CLEARANCE = ("cf_clearance", "cleared-by-browser")
SCRIPT_COOKIE = ("pg_js", "set-by-script")
INTERSTITIAL = (
    '<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title></head><body>'
    "<p>Checking your browser before accessing the playground.</p><script>setTimeout(() => {"
    ' document.cookie = "cf_chl_passed=1; path=/"; location.reload(); }, 800);</script>'
    "</body></html>"
)
SITE_PAGE = (
    '<!DOCTYPE html><html lang="en"><head><title>Workers AI LLM Playground</title></head>'
    '<body><div id="root">Playground</div><script>setTimeout(() => { document.cookie ='
    f' "{SCRIPT_COOKIE[0]}={SCRIPT_COOKIE[1]}; path=/; max-age=3600"; }}, 400);</script>'
    "</body></html>"
)

CATALOG: list[dict[str, Any]] = [
    {
        "id": "a0f1c9e2-0001-4000-8000-000000000001",
        "source": 1,
        "name": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        "description": "Llama 3.3 70B quantized to fp8 and tuned for speed.",
        "task": {"id": "t1", "name": "Text Generation", "description": "Generates text."},
        "tags": [],
        "properties": [{"property_id": "context_window", "value": "24000"}],
    },
    {
        "id": "a0f1c9e2-0002-4000-8000-000000000002",
        "source": 1,
        "name": "@cf/qwen/qwq-32b",
        "description": "QwQ reasoning model.",
        "task": {"id": "t1", "name": "Text Generation", "description": "Generates text."},
        "tags": [],
        "properties": [{"property_id": "context_window", "value": "24000"}],
    },
    {
        "id": "a0f1c9e2-0003-4000-8000-000000000003",
        "source": 1,
        "name": "@cf/acme/sparrow-9b-instruct-awq",
        "description": "A model only the live list knows (not in the static alias table).",
        "task": {"id": "t1", "name": "Text Generation", "description": "Generates text."},
        "tags": [],
        "properties": [
            {"property_id": "function_calling", "value": "true"},
            {"property_id": "context_window", "value": "8192"},
        ],
    },
    {
        "id": "a0f1c9e2-0004-4000-8000-000000000004",
        "source": 1,
        "name": "@cf/black-forest-labs/flux-1-schnell",
        "description": "An image model: not a chat model.",
        "task": {"id": "t2", "name": "Text-to-Image", "description": "Generates images."},
        "tags": [],
        "properties": [],
    },
]


@dataclass
class Fault:
    """How to misbehave on one request. The default is a correct reply.

    Attributes:
        status: The HTTP status. With ``body`` unset and a status of 400 or more, a short JSON
            error body is sent.
        body: Send exactly these bytes as the body instead of a stream.
        headers: Extra response headers.
        content_type: Override the content type.
        challenge: Answer with Cloudflare's challenge page (status 403 unless ``status`` says).
        retry_after: A ``Retry-After`` header value.
        reply: The text chunks of the reply (default: the echo reply).
        reasoning: Reasoning chunks sent before the text (the data stream only).
        usage: Send usage in the final event.
        cut_after: Send this many reply lines, then reset the connection.
        close_after: Send this many reply lines, then end the body cleanly without the end marker.
        stall_before: Seconds to wait before sending the response headers.
        stall_after: ``(n, seconds)``: after ``n`` reply lines, wait this long.
        chunk_delay: Seconds between reply lines.
        split_at: Write the stream body in pieces cut at these byte offsets, each flushed alone.
        newline: The line ending: ``"\\n"``, ``"\\r\\n"`` or ``"\\r"``.
        extra_lines: Raw lines sent before the reply (unknown prefixes, garbage).
        error_after: ``(n, message)``: after ``n`` text chunks, send an error line and stop.
        eos_token: Server-sent events only: send the ``</s>`` token old models emit before the stop.
        set_cookies: Cookies to set on the response.
        trailing_garbage: Raw bytes appended after the end marker.
        websocket: On the agents route: accept the upgrade and answer chat requests with ``reply``
            as Agents frames (a minimal stand-in for the SDK server, for WebSocket faults).
        ignore_close: With ``websocket``: never answer the client's close handshake.
        reset_before_status: Drop the connection with a reset before sending any response.
        close_code: With ``websocket`` and ``close_after``: close the WebSocket with this code
            after that many text deltas. (``extra_lines`` go out as raw frames first.)
        trickle: Send the stream body one byte at a time, this many seconds apart.
    """

    status: int = 200
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str | None = None
    challenge: bool = False
    retry_after: str | None = None
    reply: list[str] | None = None
    reasoning: list[str] | None = None
    usage: bool = True
    cut_after: int | None = None
    close_after: int | None = None
    stall_before: float = 0.0
    stall_after: tuple[int, float] | None = None
    chunk_delay: float = 0.0
    split_at: list[int] | None = None
    newline: str = "\n"
    extra_lines: list[bytes] = field(default_factory=list)
    error_after: tuple[int, str] | None = None
    eos_token: bool = False
    set_cookies: dict[str, str] = field(default_factory=dict)
    trailing_garbage: bytes = b""
    websocket: bool = False
    ignore_close: bool = False
    reset_before_status: bool = False
    trickle: float | None = None
    close_code: int | None = None


@dataclass
class RecordedRequest:
    """What the server received, for tests to assert on."""

    method: str
    path: str
    headers: dict[str, str]
    cookies: dict[str, str]
    json: Any
    peer: tuple[str, int] | None


StreamOutcome = Literal["finished", "refused", "reset", "closed early", "reader gone", "stopped"]


@dataclass
class StreamRecord:
    """How the server answered one chat request, for tests to wait on (events, not sleeps).

    A test proves that a client let go of a reply by this record (the server saw its reader go,
    after so many lines), not by waiting a while and finding nothing more.

    Attributes:
        prompt: The last user message of the request.
        request: The request's JSON body.
        lines_written: Reply lines written so far (text, reasoning, errors and the end lines;
            not ``extra_lines``).
        outcome: How the answer ended (``None`` while it runs): ``"finished"`` (the whole
            body), ``"refused"`` (a status, body or challenge fault), ``"reset"`` or
            ``"closed early"`` (a ``cut_after`` or ``close_after`` fault), ``"reader gone"``
            (the client closed the connection first), ``"stopped"`` (the server stopped).
        stalling: Set while the server waits out a ``stall_before`` or ``stall_after`` fault.
        ended: Set once ``outcome`` is known.
    """

    prompt: str
    request: Any = None
    lines_written: int = 0
    outcome: StreamOutcome | None = None
    stalling: threading.Event = field(default_factory=threading.Event)
    ended: threading.Event = field(default_factory=threading.Event)

    def end(self, outcome: StreamOutcome) -> None:
        """Record how the answer ended (the first outcome stands)."""
        if self.outcome is None:
            self.outcome = outcome
        self.stalling.clear()
        self.ended.set()

    def wait_ended(self, seconds: float = 30.0) -> StreamOutcome:
        """The outcome, once there is one; fails after ``seconds``."""
        if not self.ended.wait(seconds):
            msg = f"the answer to {self.prompt!r} did not end within {seconds:g} s"
            raise AssertionError(msg)
        assert self.outcome is not None
        return self.outcome

    def wait_stalling(self, seconds: float = 30.0) -> None:
        """Return once the server waits out a stall in this answer; fails after ``seconds``."""
        if not self.stalling.wait(seconds):
            msg = f"the answer to {self.prompt!r} did not reach its stall within {seconds:g} s"
            raise AssertionError(msg)


class ReferenceServer(LoopThreadServer):
    """The reference server on a free loopback port, in a thread of its own."""

    name = "the reference server"

    def __init__(
        self, wire_format: HttpWireFormatName = "data-stream", *, port: int = 0, gate: bool = False
    ) -> None:
        """Prepare a server of ``wire_format``; ``start()`` runs it.

        ``gate`` puts a stand-in for Cloudflare's edge in front: the site page is behind an
        interstitial that clears itself by script, and the API refuses requests without the
        cookies the page sets (one HttpOnly, by header; one by script, after a delay).
        """
        super().__init__()
        self.wire_format = wire_format
        self.gate = gate
        self.challenge_forever = False  # the interstitial never clears (a deadline test)
        self.page_never_answers = False  # the site page hangs (a deadline test)
        self.port = port
        self.requests: list[RecordedRequest] = []
        self.streams: list[StreamRecord] = []  # one per chat request, in order
        self._stream_started = threading.Condition()
        self.models_payload: Any = {"models": CATALOG}
        self._faults: dict[str, deque[Fault]] = {
            "inference": deque(),
            "models": deque(),
            "agents": deque(),
        }
        self._faults_for: dict[str, deque[Fault]] = {}
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        """The base URL to give the client."""
        return f"http://127.0.0.1:{self.port}"

    def push(
        self, *faults: Fault, route: Literal["inference", "models", "agents"] = "inference"
    ) -> None:
        """Queue faults for the next requests to ``route``, one per request."""
        self._faults[route].extend(faults)

    def push_for(self, prompt: str, *faults: Fault) -> None:
        """Queue faults for the next chat requests whose last user message is ``prompt``.

        One per request, retries included, ahead of the route's queue: many conversations at once
        each meet their own faults, whatever order their requests arrive in.
        """
        self._faults_for.setdefault(prompt, deque()).extend(faults)

    def pending_faults(self, route: Literal["inference", "models", "agents"] = "inference") -> int:
        """How many queued faults have not been used yet."""
        return len(self._faults[route])

    def stream(self, index: int = 0, seconds: float = 30.0) -> StreamRecord:
        """The record of the ``index``-th chat request (from 0), once it has arrived.

        Fails after ``seconds`` if fewer requests came.
        """
        with self._stream_started:
            if not self._stream_started.wait_for(lambda: len(self.streams) > index, seconds):
                msg = f"chat request {index} did not arrive within {seconds:g} s"
                raise AssertionError(msg)
            return self.streams[index]

    def stream_for(self, prompt: str, seconds: float = 30.0) -> StreamRecord:
        """The record of the first chat request whose last user message is ``prompt``."""

        def found() -> StreamRecord | None:
            return next((r for r in self.streams if r.prompt == prompt), None)

        with self._stream_started:
            record = self._stream_started.wait_for(found, seconds)
        if record is None:
            msg = f"no chat request for {prompt!r} arrived within {seconds:g} s"
            raise AssertionError(msg)
        return record

    def clear(self) -> None:
        """Forget the requests received and the faults not yet used."""
        self.requests.clear()
        with self._stream_started:
            self.streams.clear()
        for queue in self._faults.values():
            queue.clear()
        self._faults_for.clear()

    @property
    def inference_requests(self) -> list[RecordedRequest]:
        """The chat requests received so far."""
        return [r for r in self.requests if r.path == "/api/inference"]

    # -- serving (started and stopped by LoopThreadServer; port 0 takes a free port, and a port
    # something else listens on is an error at once, never a server that answers for another) --

    async def _main(self, started: threading.Event) -> None:
        self._stopping = asyncio.Event()
        app = web.Application()
        app.router.add_post("/api/inference", self._inference)
        app.router.add_get("/api/models", self._models)
        app.router.add_get("/", self._site_page)
        app.middlewares.append(self._edge_gate)
        # An HTTP-only server has no Agents route: the upgrade gets a 404, or whatever fault
        # is queued (a challenge page, as Cloudflare's edge answers non-browser clients).
        app.router.add_get("/agents/playground/{room}", self._agents)
        # A handler is cancelled when its client goes away, as the stream records say.
        self._runner = web.AppRunner(
            app, handle_signals=False, shutdown_timeout=0.5, handler_cancellation=True
        )
        await self._runner.setup()
        # A port another server listens on fails here (address reuse allows only lingering
        # connections of an earlier run, never a second listener).
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, reuse_address=True)
        try:
            await site.start()
        except OSError as exc:
            self._startup_error = OSError(
                exc.errno,
                f"the reference server cannot listen on 127.0.0.1:{self.port} ({exc.strerror});"
                " pick another port, or 0 for a free one",
            )
            await self._runner.cleanup()
            started.set()
            return
        self.port = int(self._runner.addresses[0][1])  # the one taken, when asked for 0
        started.set()
        await self._stopping.wait()
        await self._runner.cleanup()

    async def _site_page(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        if self.page_never_answers:
            await asyncio.sleep(120)
        if self.challenge_forever:
            return _challenge_interstitial(clears=False)
        if request.cookies.get("cf_chl_passed") != "1":
            return _challenge_interstitial()
        response = web.Response(text=SITE_PAGE, content_type="text/html")
        response.set_cookie(
            CLEARANCE[0], CLEARANCE[1], max_age=1800, httponly=True, path="/", samesite="Lax"
        )
        return response

    @web.middleware
    async def _edge_gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.gate and request.path.startswith("/api/"):
            jar = request.cookies
            if (
                jar.get(CLEARANCE[0]) != CLEARANCE[1]
                or jar.get(SCRIPT_COOKIE[0]) != SCRIPT_COOKIE[1]
            ):
                await self._record(request)
                return _challenge_interstitial()
        response: web.StreamResponse = await handler(request)
        return response

    def _next_fault(self, route: str, prompt: str | None = None) -> Fault:
        queue = self._faults_for.get(prompt) if prompt is not None else None
        if not queue:
            queue = self._faults[route]
        return queue.popleft() if queue else Fault()

    async def _record(self, request: web.Request) -> Any:
        raw = await request.read()
        try:
            payload = json.loads(raw) if raw else None
        except ValueError:
            payload = raw
        self.requests.append(
            RecordedRequest(
                method=request.method,
                path=request.path,
                headers=dict(request.headers),
                cookies=dict(request.cookies),
                json=payload,
                peer=request.transport.get_extra_info("peername") if request.transport else None,
            )
        )
        return payload

    async def _models(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        fault = self._next_fault("models")
        refused = await self._refuse(request, fault)
        if refused is not None:
            return refused
        return web.json_response(self.models_payload, headers=fault.headers)

    async def _agents(self, request: web.Request) -> web.StreamResponse:
        await self._record(request)
        queue = self._faults["agents"]
        fault = queue.popleft() if queue else None
        if fault is not None and fault.websocket:
            return await self._agents_conversation(request, fault)
        refused = await self._refuse(request, fault) if fault else None
        return refused or web.json_response({"error": "not found"}, status=404)

    async def _agents_conversation(self, request: web.Request, fault: Fault) -> web.StreamResponse:
        """Just enough of the Agents frames to answer one chat request."""
        ws = web.WebSocketResponse(autoclose=not fault.ignore_close)
        await ws.prepare(request)
        await ws.send_json({"type": "cf_agent_identity", "name": "r", "agent": "playground"})
        await ws.send_json({"type": "cf_agent_state", "state": {"model": "m"}})
        await ws.send_json({"type": "cf_agent_mcp_servers", "mcp": {}})
        async for message in ws:
            if message.type is not WSMsgType.TEXT:
                continue  # with ignore_close, a close frame gets no answer
            frame = json.loads(message.data)
            if frame.get("type") == "rpc":  # no callable methods here, as the SDK answers
                await ws.send_json(
                    {
                        "type": "rpc",
                        "id": frame.get("id"),
                        "success": False,
                        "error": f"Method {frame.get('method')} does not exist",
                    }
                )
            if frame.get("type") != "cf_agent_use_chat_request":
                continue
            for raw in fault.extra_lines:
                await ws.send_str(raw.decode("utf-8", "replace"))
            bodies = [
                *(
                    {"type": "text-delta", "id": "t0", "delta": chunk}
                    for chunk in fault.reply or ["ok"]
                ),
                {"type": "finish", "messageMetadata": {"finishReason": "stop"}},
            ]
            for sent, body in enumerate(bodies):
                if fault.close_after is not None and sent >= fault.close_after:
                    await ws.close(code=fault.close_code or 1000)
                    return ws
                await ws.send_json(_agents_response(frame["id"], json.dumps(body)))
            await ws.send_json(_agents_response(frame["id"], "", done=True))
        if fault.ignore_close:
            await asyncio.sleep(10)  # hold the connection, silent, past the client's close wait
        return ws

    async def _refuse(
        self, request: web.Request, fault: Fault, record: StreamRecord | None = None
    ) -> web.StreamResponse | None:
        """Answer faults that replace the whole response; ``None`` if the reply should stream."""
        del request
        if fault.stall_before:
            await _stall(fault.stall_before, record)
        headers = dict(fault.headers)
        if fault.retry_after is not None:
            headers["Retry-After"] = fault.retry_after
        response: web.Response | None = None
        if fault.challenge:
            headers["cf-mitigated"] = "challenge"
            response = web.Response(
                status=fault.status if fault.status != 200 else 403,
                text=CHALLENGE_PAGE,
                content_type="text/html",
                headers=headers,
            )
        elif fault.body is not None:
            response = web.Response(
                status=fault.status,
                body=fault.body,
                content_type=fault.content_type or "text/plain",
                headers=headers,
            )
        elif fault.status >= 400:
            response = web.json_response(
                {"error": f"reference server says {fault.status}"},
                status=fault.status,
                headers=headers,
            )
        if response is not None:
            for name, value in fault.set_cookies.items():
                response.set_cookie(name, value, max_age=1800, httponly=True)
        return response

    async def _inference(self, request: web.Request) -> web.StreamResponse:
        body = await self._record(request)
        record = StreamRecord(prompt=_last_user_text(body), request=body)
        with self._stream_started:
            self.streams.append(record)
            self._stream_started.notify_all()
        try:
            response = await self._answer_inference(request, body, record)
        except asyncio.CancelledError:
            record.end("stopped" if self._stopping.is_set() else "reader gone")
            raise
        except ConnectionError:  # a write to a client that has gone
            record.end("reader gone")
            raise
        record.end("finished")  # unless a fault's outcome was recorded first
        return response

    async def _answer_inference(
        self, request: web.Request, body: Any, record: StreamRecord
    ) -> web.StreamResponse:
        fault = self._next_fault("inference", record.prompt)
        refused = await self._refuse(request, fault, record)
        if refused is not None:
            record.end("refused")
            return refused
        if not isinstance(body, dict):
            record.end("refused")
            return web.json_response({"error": "body must be JSON"}, status=400)
        if fault.reset_before_status:
            record.end("reset")
            _reset(request)
            return web.Response()  # never sent: the connection is gone
        lines = self._reply_lines(body, fault)
        response = web.StreamResponse(
            status=fault.status,
            headers={
                "Content-Type": fault.content_type or CONTENT_TYPES[self.wire_format],
                "Cache-Control": "no-cache",
                **({"x-vercel-ai-data-stream": "v1"} if self.wire_format == "data-stream" else {}),
                **fault.headers,
            },
        )
        for name, value in fault.set_cookies.items():
            response.set_cookie(name, value, max_age=1800, httponly=True)
        await response.prepare(request)
        await self._write_lines(request, response, lines, fault, record)
        return response

    def _reply_lines(self, body: dict[str, Any], fault: Fault) -> list[tuple[bytes, bool]]:
        """The body as ``(line, counts)`` pairs; ``counts`` marks reply lines for cut/stall."""
        model = str(body.get("model", ""))
        chunks = fault.reply if fault.reply is not None else echo_reply(body, self.wire_format)
        reasoning = fault.reasoning if fault.reasoning is not None else http_reasoning(model)
        prompt_tokens = sum(len(str(m.get("content", "")).split()) for m in body["messages"])
        completion_tokens = len(chunks)
        sse = self.wire_format == "sse"
        out: list[tuple[bytes, bool]] = [(raw, False) for raw in fault.extra_lines]
        if not sse:
            out.append((b'f:{"messageId":"msg-ref-1"}', False))
            out.extend((b"g:" + _json(r), True) for r in reasoning or [])
        for index, chunk in enumerate([*chunks, None]):
            if fault.error_after is not None and index == fault.error_after[0]:
                message = fault.error_after[1]
                out.append((_sse({"error": message}) if sse else b"3:" + _json(message), True))
                return out
            if chunk is not None:
                out.append((_sse({"response": chunk}) if sse else b"0:" + _json(chunk), True))
        if sse:
            if fault.eos_token:
                out.append((_sse({"response": "</s>"}), True))
            final: dict[str, Any] = {"response": ""}
            if fault.usage:
                final["usage"] = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": completion_tokens,
                    "total_tokens": prompt_tokens + completion_tokens,
                }
            out.append((_sse(final), True))
            out.append((b"data: [DONE]", True))
            return out
        step: dict[str, Any] = {"finishReason": "stop", "isContinued": False}
        finish: dict[str, Any] = {"finishReason": "stop"}
        if fault.usage:
            usage = {"promptTokens": prompt_tokens, "completionTokens": completion_tokens}
            step["usage"] = finish["usage"] = usage
        out.append((b"e:" + _json(step), True))
        out.append((b"d:" + _json(finish), True))
        return out

    async def _write_lines(
        self,
        request: web.Request,
        response: web.StreamResponse,
        lines: list[tuple[bytes, bool]],
        fault: Fault,
        record: StreamRecord,
    ) -> None:
        newline = fault.newline.encode()
        separator = newline * 2 if self.wire_format == "sse" else newline
        if fault.trickle is not None:
            payload = b"".join(line + separator for line, _ in lines)
            for index in range(len(payload)):
                await response.write(payload[index : index + 1])
                await asyncio.sleep(fault.trickle)
            await response.write_eof()
            return
        if fault.split_at is not None:
            payload = b"".join(line + separator for line, _ in lines) + fault.trailing_garbage
            cuts = [0, *sorted(fault.split_at), len(payload)]
            for start, end in itertools.pairwise(cuts):
                if end > start:
                    await response.write(payload[start:end])
                    await asyncio.sleep(0.005)  # so each piece leaves as its own read
            await response.write_eof()
            return
        per_line = any(
            value is not None for value in (fault.cut_after, fault.close_after, fault.stall_after)
        ) or bool(fault.chunk_delay)
        if len(lines) > _BATCH_OVER and not per_line:
            # A long reply leaves in batches, as a busy server's would: one write per line
            # would make this server, not the client, the limit the benchmarks measure.
            for start in range(0, len(lines), _BATCH):
                batch = lines[start : start + _BATCH]
                await response.write(b"".join(line + separator for line, _ in batch))
                record.lines_written += sum(counts for _, counts in batch)
            await response.write_eof()
            return
        sent = 0
        for line, counts in lines:
            if counts:
                if fault.cut_after is not None and sent >= fault.cut_after:
                    # Let the client read what was sent first: a reset makes the kernel drop
                    # data the reader has not taken yet.
                    await asyncio.sleep(0.05)
                    record.end("reset")
                    _reset(request)
                    return
                if fault.close_after is not None and sent >= fault.close_after:
                    record.end("closed early")
                    await response.write_eof()
                    return
                if fault.stall_after is not None and sent == fault.stall_after[0]:
                    await _stall(fault.stall_after[1], record)
                if fault.chunk_delay:
                    await asyncio.sleep(fault.chunk_delay)
                sent += 1
            await response.write(line + separator)
            record.lines_written += counts
        if fault.trailing_garbage:
            await response.write(fault.trailing_garbage)
        await response.write_eof()


_BATCH_OVER = 1000  # replies longer than this many lines are written in batches
_BATCH = 64


async def _stall(seconds: float, record: StreamRecord | None) -> None:
    """Wait ``seconds``, with ``record.stalling`` set meanwhile."""
    if record is not None:
        record.stalling.set()
    try:
        await asyncio.sleep(seconds)
    finally:
        if record is not None:
            record.stalling.clear()


def _last_user_text(body: Any) -> str:
    """The last user message's text of a chat request body (``""`` if it has none)."""
    messages = body.get("messages") if isinstance(body, dict) else None
    users = [m for m in messages or [] if isinstance(m, dict) and m.get("role") == "user"]
    return str(users[-1].get("content", "")) if users else ""


def _challenge_interstitial(*, clears: bool = True) -> web.Response:
    return web.Response(
        status=403,
        text=INTERSTITIAL if clears else INTERSTITIAL.split("<script>", maxsplit=1)[0],
        content_type="text/html",
        headers={"cf-mitigated": "challenge"},
    )


def _agents_response(request_id: str, body: str, *, done: bool = False) -> dict[str, Any]:
    return {"type": "cf_agent_use_chat_response", "id": request_id, "body": body, "done": done}


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode()


def _sse(payload: dict[str, Any]) -> bytes:
    return b"data: " + _json(payload)


def _reset(request: web.Request) -> None:
    """Drop the connection with a TCP reset, mid-body."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(
                socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
            )
    transport.abort()


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def main() -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--wire-format", choices=("sse", "data-stream"), default="data-stream")
    parser.add_argument("--port", type=int, default=8787, help="0 takes a free port")
    args = parser.parse_args()
    try:
        server = ReferenceServer(args.wire_format, port=args.port).start()
    except OSError as exc:
        parser.exit(2, f"error: {exc.strerror}\n")
    print(f"reference server ({args.wire_format}) on {server.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()

"""``POST /v1/chat/completions``: one request, from its body to the whole or streamed reply.

Everything that can fail before the reply starts (the body, the model name, the playground
refusing or rate-limiting) is answered with its own status. Once the stream has started, a
failure is sent as an error event in OpenAI's shape and the stream ends without ``[DONE]``, as
OpenAI's own streams do; the SDKs raise it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from starlette.responses import JSONResponse, Response

from langchain_cloudflare_playground.serve.disconnects import (
    ClientGone,
    EventStream,
    unless_disconnected,
)
from langchain_cloudflare_playground.serve.openai_errors import bad_request, from_exception
from langchain_cloudflare_playground.serve.openai_reply import (
    ReplyBuilder,
    ReplyMeta,
    chunk,
    usage_chunk,
    whole_completion,
)
from langchain_cloudflare_playground.serve.openai_request import parse_completion_request

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Awaitable, Callable

    from starlette.requests import Request

    from langchain_cloudflare_playground.client.events import ChatEvent
    from langchain_cloudflare_playground.client.playground import PlaygroundClient
    from langchain_cloudflare_playground.serve.admission import ConversationGate
    from langchain_cloudflare_playground.serve.openai_errors import OpenAIError
    from langchain_cloudflare_playground.serve.openai_reply import Delta
    from langchain_cloudflare_playground.serve.openai_request import CompletionRequest

__all__ = ["ChatCompletions", "error_response"]

logger = logging.getLogger("langchain_cloudflare_playground.serve")
# Not a real status: what the access log shows for a request whose client left first (nginx's).
_CLIENT_CLOSED_REQUEST = 499
_DONE = b"data: [DONE]\n\n"
_FIRST_DELTA = {"role": "assistant", "content": ""}


class ChatCompletions:
    """Answers chat completion requests with one shared client, behind the conversation gate."""

    def __init__(self, client: PlaygroundClient, gate: ConversationGate) -> None:
        """Answer with ``client``; ``gate`` caps the conversations in flight."""
        self._client = client
        self._gate = gate

    async def answer(self, request: Request) -> Response:
        """The reply to one request, or its error in OpenAI's shape."""
        try:
            call = parse_completion_request(_json_body(await request.body()))
            await unless_disconnected(request.receive, self._gate.enter())
        except ClientGone:
            return Response(status_code=_CLIENT_CLOSED_REQUEST)
        except Exception as exc:  # noqa: BLE001 (every failure is answered in OpenAI's shape)
            return error_response(from_exception(exc), exc)
        try:
            reply = await unless_disconnected(request.receive, self._start(call))
        except ClientGone:
            reply = Response(status_code=_CLIENT_CLOSED_REQUEST)
        except Exception as exc:  # noqa: BLE001
            reply = error_response(from_exception(exc), exc)
        except BaseException:  # cancelled (a shutdown past its grace): the place is free again
            self._gate.leave()
            raise
        if not isinstance(reply, EventStream):
            self._gate.leave()  # else the stream gives the place back when it ends
        return reply

    async def _start(self, call: CompletionRequest) -> Response:
        """The whole reply, or a stream whose first batch has come (early errors get a status)."""
        model = await self._client.aresolve_model(call.model or self._client.model)
        meta = ReplyMeta(f"chatcmpl-{secrets.token_hex(12)}", int(time.time()), model)
        builder = ReplyBuilder(call)
        batches = self._client.astream_chat_batches(
            call.chat_messages(), **call.chat_options(model)
        )
        if not call.stream:
            async with contextlib.aclosing(batches):
                deltas = [delta async for delta in _deltas(batches, builder)]
            return JSONResponse(
                whole_completion(meta, deltas, builder.finish_reason or "stop", builder.usage)
            )
        try:
            first = await anext(batches)
        except StopAsyncIteration:
            first = []
        except BaseException:
            await batches.aclose()
            raise
        stream = _ReplyStream(meta, call, builder, first, batches)
        return EventStream(stream.write_to, self._gate.leave)


async def _deltas(
    batches: AsyncGenerator[list[ChatEvent], None], builder: ReplyBuilder
) -> AsyncGenerator[Delta, None]:
    """The deltas of the reply, until its end (or its stop sequence)."""
    async for batch in batches:
        for delta in builder.feed(batch):
            yield delta
        if builder.done:
            return


class _ReplyStream:
    """One streamed reply: its first batch (already read) and the batches still to come."""

    def __init__(
        self,
        meta: ReplyMeta,
        call: CompletionRequest,
        builder: ReplyBuilder,
        first: list[ChatEvent],
        batches: AsyncGenerator[list[ChatEvent], None],
    ) -> None:
        self._meta = meta
        self._usage = call.include_usage
        self._builder = builder
        self._first = first
        self._batches = batches

    async def write_to(self, write: Callable[[bytes], Awaitable[None]]) -> None:
        """Write the reply as server-sent events: chunks, the finish, the usage, ``[DONE]``."""
        meta, builder, usage = self._meta, self._builder, self._usage
        async with contextlib.aclosing(self._batches) as batches:
            # What one read brought goes out in one write.
            first = [_FIRST_DELTA, *builder.feed(self._first)]
            await write(_events(meta, first, with_usage=usage))
            try:
                while not builder.done:
                    try:
                        batch = await anext(batches)
                    except StopAsyncIteration:
                        break
                    await write(_events(meta, builder.feed(batch), with_usage=usage))
            except Exception as exc:  # noqa: BLE001 (the stream has started: the error goes in it)
                error = from_exception(exc)
                _log_failure(error, exc)
                await write(_event(error.body()))
                return
        end = [_event(chunk(meta, {}, builder.finish_reason or "stop", with_usage=usage))]
        if usage:
            end.append(_event(usage_chunk(meta, builder.usage)))
        end.append(_DONE)
        await write(b"".join(end))


def _events(meta: ReplyMeta, deltas: list[Delta], *, with_usage: bool) -> bytes:
    return b"".join(_event(chunk(meta, delta, with_usage=with_usage)) for delta in deltas)


def _event(payload: object) -> bytes:
    return b"data: " + json.dumps(payload, ensure_ascii=False).encode() + b"\n\n"


def _json_body(raw: bytes) -> Any:  # noqa: ANN401 (any JSON value; checked by the parser)
    try:
        return json.loads(raw)
    except ValueError:
        msg = "the request body is not valid JSON"
        raise bad_request(msg) from None


def error_response(error: OpenAIError, exc: BaseException | None = None) -> JSONResponse:
    """``error`` as a response; a server-side failure is logged by kind, never by content."""
    if error.status >= 500:  # noqa: PLR2004
        _log_failure(error, exc)
    return JSONResponse(error.body(), status_code=error.status, headers=error.headers)


def _log_failure(error: OpenAIError, exc: BaseException | None) -> None:
    # The kind of failure only: messages can quote what was sent.
    kind = type(exc).__name__ if exc is not None else "-"
    logger.warning("chat completion failed: %s %s (%s)", error.status, error.code, kind)

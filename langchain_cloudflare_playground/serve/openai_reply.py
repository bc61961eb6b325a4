"""Client events into OpenAI's reply shapes (pure).

:class:`ReplyBuilder` turns each batch of client events into OpenAI deltas: the one mapping that
both the streamed reply (each delta a ``chat.completion.chunk``) and the whole reply (the deltas
joined into one ``chat.completion``) use. The shapes follow the ``openai`` package's types.

Reasoning goes in ``reasoning_content``, beside ``content``: the field DeepSeek's API introduced
for its reasoning models and that OpenAI-compatible servers (vLLM, SGLang, LiteLLM, llama.cpp's
server, LM Studio) and the clients written for them read. OpenAI's own API has no such field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.events import Finish, ReasoningDelta, TextDelta
from langchain_cloudflare_playground.client.json_replies import find_json_object
from langchain_cloudflare_playground.client.stop_sequences import StopSequenceFilter
from langchain_cloudflare_playground.client.tools.spec import ToolCall

if TYPE_CHECKING:
    from collections.abc import Iterable

    from langchain_cloudflare_playground.client.events import ChatEvent, Usage
    from langchain_cloudflare_playground.client.models import ModelInfo
    from langchain_cloudflare_playground.serve.openai_request import CompletionRequest

__all__ = [
    "REASONING_FIELD",
    "Delta",
    "ReplyBuilder",
    "ReplyMeta",
    "chunk",
    "model_object",
    "usage_chunk",
    "whole_completion",
]

REASONING_FIELD = "reasoning_content"
OWNER = "cloudflare"
Delta = dict[str, Any]
# The client's finish reasons (the AI SDK's words among them) in OpenAI's.
_FINISH_REASONS = {
    "length": "length",
    "max_tokens": "length",
    "content-filter": "content_filter",
    "content_filter": "content_filter",
}


@dataclass(frozen=True, slots=True)
class ReplyMeta:
    """What every chunk of one reply repeats: its id, when it was made, the model id."""

    id: str
    created: int
    model: str


class ReplyBuilder:
    """Turns one reply's client events into OpenAI deltas, in order.

    Attributes:
        done: The reply is over: its finish came, or a stop sequence cut it (the caller stops
            reading, which cancels the rest upstream).
        finish_reason: OpenAI's finish reason, once ``done``.
        usage: Token counts, when the playground sent them.
    """

    def __init__(self, request: CompletionRequest) -> None:
        """A builder for the reply to ``request`` (its stop sequences, format and tools)."""
        self._stop = StopSequenceFilter(request.stop)
        self._format = request.response_format
        self._parallel = request.parallel_tool_calls
        self._held: list[str] = []  # text kept back while a JSON answer is awaited
        self._answered = False  # the JSON answer was given
        self._calls = 0
        self.done = False
        self.finish_reason: str | None = None
        self.usage: Usage | None = None

    def feed(self, events: Iterable[ChatEvent]) -> list[Delta]:
        """The deltas ``events`` make; consecutive pieces of one kind come as one delta."""
        deltas: list[Delta] = []
        run: list[str] = []  # the pieces of text or reasoning in a row, joined once at its end
        run_kind: type[ChatEvent] | None = None
        for event in events:
            if self.done:
                break
            # By the type itself, not isinstance: this runs for every piece of every reply.
            kind = type(event)
            if kind is TextDelta or kind is ReasoningDelta:
                if kind is not run_kind:
                    self._end_run(run_kind, run, deltas)
                    run_kind = kind
                run.append(event.text)  # type: ignore[union-attr]
                continue
            self._end_run(run_kind, run, deltas)
            run_kind = None
            if self.done:  # the run ended in a stop sequence
                break
            if isinstance(event, ToolCall):
                self._call(event, deltas)
            elif isinstance(event, Finish):
                self._finish(event, deltas)
        if not self.done:
            self._end_run(run_kind, run, deltas)
        return deltas

    def _end_run(self, kind: type[ChatEvent] | None, run: list[str], deltas: list[Delta]) -> None:
        # One join per run, not one concatenation per piece: a read of the playground can hold
        # thousands of pieces, and adding each to the delta's string copies it every time.
        if not run:
            return
        text = "".join(run)
        run.clear()
        if kind is TextDelta:
            self._text(text, deltas)
        else:
            _add(deltas, REASONING_FIELD, text)

    def _text(self, text: str, deltas: list[Delta]) -> None:
        if self._format is not None:
            self._held.append(text)
            return
        shown = self._stop.feed(text)
        if shown:
            _add(deltas, "content", shown)
        if self._stop.stopped:
            self.done = True
            self.finish_reason = "stop"

    def _call(self, call: ToolCall, deltas: list[Delta]) -> None:
        arguments = json.dumps(dict(call.arguments), ensure_ascii=False)
        if self._format is not None:  # the schema's tool: its arguments are the answer
            if not self._answered:
                self._answered = True
                _add(deltas, "content", arguments)
            return
        if self._calls and not self._parallel:
            return
        index, self._calls = self._calls, self._calls + 1
        # The call's name first, then its arguments, as OpenAI streams them.
        function = {"name": call.name, "arguments": ""}
        deltas.append(
            {
                "tool_calls": [
                    {"index": index, "id": call.id, "type": "function", "function": function}
                ]
            }
        )
        deltas.append({"tool_calls": [{"index": index, "function": {"arguments": arguments}}]})

    def _finish(self, finish: Finish, deltas: list[Delta]) -> None:
        if self._format is None:
            rest = self._stop.flush()
            if rest:
                _add(deltas, "content", rest)
        elif not self._answered:
            _add(deltas, "content", self._json_answer())
        self.done = True
        self.usage = finish.usage
        if self._stop.stopped:
            self.finish_reason = "stop"
        elif self._calls:
            self.finish_reason = "tool_calls"
        else:
            self.finish_reason = _FINISH_REASONS.get(finish.reason or "", "stop")

    def _json_answer(self) -> str:
        """The JSON object found in the text, written plainly; else the text as it came."""
        text = "".join(self._held)
        found = find_json_object(text)
        return text if found is None else json.dumps(found, ensure_ascii=False)


def _add(deltas: list[Delta], field: str, text: str) -> None:
    last = deltas[-1] if deltas else None
    if last is not None and field in last and len(last) == 1:
        last[field] += text
    else:
        deltas.append({field: text})


# -- shapes ---------------------------------------------------------------------------------


def chunk(
    meta: ReplyMeta,
    delta: Delta,
    finish_reason: str | None = None,
    *,
    with_usage: bool = False,
) -> dict[str, Any]:
    """One ``chat.completion.chunk``; ``with_usage`` adds ``"usage": null``, as OpenAI does."""
    body: dict[str, Any] = {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}],
    }
    if with_usage:
        body["usage"] = None
    return body


def usage_chunk(meta: ReplyMeta, usage: Usage | None) -> dict[str, Any]:
    """The last chunk when ``stream_options.include_usage`` is set: no choices, the usage."""
    return {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "choices": [],
        "usage": _usage(usage),
    }


def whole_completion(
    meta: ReplyMeta, deltas: Iterable[Delta], finish_reason: str | None, usage: Usage | None
) -> dict[str, Any]:
    """A ``chat.completion``: the deltas of a reply joined into one message."""
    content: list[str] = []
    reasoning: list[str] = []
    calls: dict[int, dict[str, Any]] = {}
    for delta in deltas:
        content.append(delta.get("content", ""))
        reasoning.append(delta.get(REASONING_FIELD, ""))
        for piece in delta.get("tool_calls", ()):
            call = calls.setdefault(
                piece["index"],
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
            )
            call["id"] = piece.get("id", call["id"])
            function = piece["function"]
            call["function"]["name"] += function.get("name", "")
            call["function"]["arguments"] += function.get("arguments", "")
    text = "".join(content)
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text if text or not calls else None,
        "refusal": None,
    }
    if calls:
        message["tool_calls"] = [calls[index] for index in sorted(calls)]
    thought = "".join(reasoning)
    if thought:
        message[REASONING_FIELD] = thought
    return {
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
        ],
        "usage": _usage(usage),
    }


def _usage(usage: Usage | None) -> dict[str, int] | None:
    if usage is None:
        return None
    return {
        "prompt_tokens": usage.input_tokens,
        "completion_tokens": usage.output_tokens,
        "total_tokens": usage.total_tokens,
    }


def model_object(model: ModelInfo) -> dict[str, Any]:
    """A ``model`` object of ``/v1/models``, with the catalog's facts beside OpenAI's fields."""
    return {
        "id": model.id,
        "object": "model",
        "created": 0,
        "owned_by": OWNER,
        "alias": model.alias,
        "context_window": model.context_window,
        "vision": model.vision,
        "function_calling": model.function_calling,
        "reasoning": model.reasoning,
    }

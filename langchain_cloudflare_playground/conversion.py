"""LangChain messages in, client events out: the adapter's one mapping each way."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, cast

from langchain_cloudflare_playground.client.extras import require_extra

# Before the framework's own imports: a missing framework then reads as the extra to install.
require_extra("langchain_core", extra="langchain", needed_by="ChatCloudflarePlayground")

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGenerationChunk

from langchain_cloudflare_playground.client import Finish, ImageError, ReasoningDelta, TextDelta
from langchain_cloudflare_playground.client.images import image_of_part
from langchain_cloudflare_playground.client.stop_sequences import StopSequenceFilter
from langchain_cloudflare_playground.client.tools import ToolCall

if TYPE_CHECKING:
    from langchain_core.messages.ai import UsageMetadata

    from langchain_cloudflare_playground.client import ChatEvent

__all__ = ["PROVIDER", "ChunkBuilder", "to_playground_messages"]

PROVIDER = "cloudflare-playground"
_NOT_TEXT_OF_A_TURN = ("reasoning", "thinking", "tool_use", "tool_call", "function_call")
_CHAT_ROLES = {
    "system": "system",
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
}


class ChunkBuilder:
    """Turns client events into LangChain chunks: the one mapping both stream paths use."""

    def __init__(self, stop: list[str] | None) -> None:
        """Build chunks for one reply, cut at the first of ``stop``."""
        self._stop = StopSequenceFilter(stop)
        self._calls = 0
        self.stopped = False

    def feed(self, event: ChatEvent) -> list[ChatGenerationChunk]:
        """The chunks ``event`` makes (none, one, or the last ones)."""
        if isinstance(event, TextDelta):
            text = self._stop.feed(event.text)
            if self._stop.stopped:
                self.stopped = True
            return [_chunk(AIMessageChunk(content=text))] if text else []
        if isinstance(event, ReasoningDelta):
            # One index, so the reasoning pieces merge into one block.
            block = {"type": "reasoning", "reasoning": event.text, "index": 0}
            return [_chunk(AIMessageChunk(content=[block]))]
        if isinstance(event, ToolCall):
            return [self._tool_call(event)]
        return self._finish(event)

    def _tool_call(self, call: ToolCall) -> ChatGenerationChunk:
        # Each call arrives whole, as one chunk with its own index.
        index, self._calls = self._calls, self._calls + 1
        return _chunk(
            AIMessageChunk(
                content="",
                tool_call_chunks=[
                    tool_call_chunk(
                        name=call.name,
                        args=json.dumps(dict(call.arguments), ensure_ascii=False),
                        id=call.id,
                        index=index,
                    )
                ],
            )
        )

    def _finish(self, event: Finish) -> list[ChatGenerationChunk]:
        chunks = []
        rest = self._stop.flush()
        if rest:
            chunks.append(_chunk(AIMessageChunk(content=rest)))
        usage = None
        if event.usage is not None:
            usage = cast(
                "UsageMetadata",
                {
                    "input_tokens": event.usage.input_tokens,
                    "output_tokens": event.usage.output_tokens,
                    "total_tokens": event.usage.total_tokens,
                },
            )
        chunks.append(
            _chunk(
                AIMessageChunk(
                    content="",
                    usage_metadata=usage,
                    response_metadata=_response_metadata(
                        event.model, event.reason, event.tool_call_problem, event.reconnects
                    ),
                    chunk_position="last",
                )
            )
        )
        return chunks

    def final_chunk(self) -> ChatGenerationChunk:
        """The last chunk of a reply cut at a stop sequence."""
        return _chunk(
            AIMessageChunk(
                content="",
                response_metadata=_response_metadata(None, "stop"),
                chunk_position="last",
            )
        )


def _chunk(message: AIMessageChunk) -> ChatGenerationChunk:
    return ChatGenerationChunk(message=message)


def _response_metadata(
    model: str | None, reason: str | None, tool_call_problem: str | None = None, reconnects: int = 0
) -> dict[str, Any]:
    metadata: dict[str, Any] = {"model_provider": PROVIDER, "finish_reason": reason}
    if model is not None:
        metadata["model_name"] = model
    if tool_call_problem is not None:
        metadata["tool_call_problem"] = tool_call_problem
    if reconnects:  # the connection dropped mid-reply and the reply was resumed in its room
        metadata["reconnects"] = reconnects
    return metadata


def to_playground_messages(messages: list[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as the client takes them.

    Image blocks of human messages (LangChain's standard ``image`` blocks, OpenAI's ``image_url``
    parts) pass on as they are: the client reads every form.

    Raises:
        ValueError: a message the playground cannot carry (audio, an image in a tool result),
            named by its place.
    """
    converted: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        if isinstance(message, ToolMessage):
            converted.append(
                {
                    "role": "tool",
                    "tool_call_id": message.tool_call_id,
                    "name": message.name,
                    "content": _text_only(message.content, index),
                    "is_error": message.status == "error",
                }
            )
            continue
        if isinstance(message, SystemMessage):
            role = "system"
        elif isinstance(message, HumanMessage):
            role = "user"
        elif isinstance(message, AIMessage):
            role = "assistant"
        elif isinstance(message, ChatMessage) and message.role in _CHAT_ROLES:
            role = _CHAT_ROLES[message.role]
        else:
            kind = message.role if isinstance(message, ChatMessage) else message.type
            msg = (
                f"messages[{index}] is a {type(message).__name__} ({kind!r}); the playground takes"
                " system, human, AI and tool messages."
            )
            raise ValueError(msg)
        # The client flattens text parts and names any part it cannot carry.
        entry: dict[str, Any] = {"role": role, "content": _without_reasoning(message.content)}
        if isinstance(message, AIMessage) and message.tool_calls:
            entry["tool_calls"] = [
                {"id": call["id"] or "", "name": call["name"], "arguments": call["args"]}
                for call in message.tool_calls
            ]
        converted.append(entry)
    return converted


def _text_only(content: str | list[str | dict[str, Any]], index: int) -> str:
    """A tool's output as text: its text parts, and anything else (but an image) as JSON."""
    if isinstance(content, str):
        return content
    parts = []
    for part_index, part in enumerate(content):
        if isinstance(part, str):
            parts.append(part)
        elif part.get("type") == "text":
            parts.append(str(part.get("text", "")))
        elif _is_image(part):
            # The tool result reaches the model as text in the next user turn, and the room's
            # AI SDK keeps only the text of a tool result's content (workers-ai-provider).
            msg = (
                f"messages[{index}].content[{part_index}] is an image in a tool result; the"
                " playground takes images in user messages only: return text from the tool and"
                " put the image in a HumanMessage"
            )
            raise ImageError(msg)
        else:
            parts.append(json.dumps(part, ensure_ascii=False, default=str))
    return "".join(parts)


def _is_image(part: dict[str, Any]) -> bool:
    try:
        return image_of_part(part) is not None
    except ImageError:
        return True  # an image block whose image is bad is an image block all the same


def _without_reasoning(content: str | list[str | dict[str, Any]]) -> str | list[Any]:
    if isinstance(content, str):
        return content
    # Reasoning from an earlier reply is the model's own notes, not part of the conversation;
    # provider-format call blocks (tool_use...) are carried by the message's tool_calls.
    return [
        part
        for part in content
        if not (isinstance(part, dict) and part.get("type") in _NOT_TEXT_OF_A_TURN)
    ] or ""

"""LlamaIndex messages in, client events out: the adapter's one mapping each way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.extras import require_extra

# Before the framework's own imports: a missing framework then reads as the extra to install.
require_extra("llama_index.core", extra="llama-index", needed_by="CloudflarePlayground")

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from langchain_cloudflare_playground.client import (
    Finish,
    ImageError,
    ImagePart,
    ReasoningDelta,
    TextDelta,
    ToolCall,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from llama_index.core.base.llms.types import ChatResponseGen

    from langchain_cloudflare_playground.client import ChatEvent

__all__ = ["ResponseBuilder", "as_completion", "last_response", "to_playground_messages"]

_ROLES = {
    MessageRole.SYSTEM: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
}


def to_playground_messages(
    messages: Sequence[ChatMessage], system_prompt: str | None
) -> list[dict[str, Any]]:
    """``messages`` as the client takes them, after ``system_prompt`` unless they have one."""
    converted: list[dict[str, Any]] = []
    if system_prompt and not any(m.role == MessageRole.SYSTEM for m in messages):
        converted.append({"role": "system", "content": system_prompt})
    for index, message in enumerate(messages):
        role = MessageRole(message.role)
        if role == MessageRole.TOOL:
            converted.append(
                {
                    "role": "tool",
                    "tool_call_id": message.additional_kwargs.get("tool_call_id"),
                    "name": message.additional_kwargs.get("name"),
                    "content": _content_of(message, index),
                }
            )
            continue
        if role not in _ROLES:
            msg = (
                f"messages[{index}] has role {role.value!r}; the playground takes system,"
                " user, assistant and tool messages."
            )
            raise ValueError(msg)
        entry: dict[str, Any] = {"role": _ROLES[role], "content": _content_of(message, index)}
        calls = [block for block in message.blocks if isinstance(block, ToolCallBlock)]
        if calls:
            entry["tool_calls"] = [
                {"id": b.tool_call_id or "", "name": b.tool_name, "arguments": b.tool_kwargs}
                for b in calls
            ]
        converted.append(entry)
    return converted


def _content_of(message: ChatMessage, index: int) -> str | list[str | ImagePart]:
    """The text of ``message``, with its images after it when it has any.

    The client refuses images outside a user message, saying where they belong.
    """
    texts: list[str] = []
    images: list[ImagePart] = []
    for part, block in enumerate(message.blocks):
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, ImageBlock):
            images.append(_image_of(block, f"messages[{index}].blocks[{part}]"))
        elif isinstance(block, (ThinkingBlock, ToolCallBlock)):
            # Earlier reasoning is not part of the conversation; calls travel as tool_calls.
            continue
        else:
            msg = (
                f"messages[{index}].blocks[{part}] is a {type(block).__name__}; the Cloudflare AI"
                " Playground takes text, and images in user messages."
            )
            raise ValueError(msg)  # noqa: TRY004 (a value the playground cannot carry)
    text = "".join(texts)
    return [text, *images] if images else text


def _image_of(block: ImageBlock, where: str) -> ImagePart:
    """An ``ImageBlock`` as the client's image: its bytes, its path or its URL.

    LlamaIndex keeps the bytes as base64. For a path or a URL the media type is read from the
    bytes: LlamaIndex guesses one from the name's suffix, which the bytes may contradict.
    """
    try:
        if isinstance(block.image, bytes) and block.image:
            return ImagePart.from_base64(block.image, block.image_mimetype)
        if block.image is not None and not isinstance(block.image, bytes):  # a file object
            block.image.seek(0)
            return ImagePart.from_bytes(block.image.read(), block.image_mimetype)
        if block.path is not None:
            return ImagePart.from_path(block.path)
        if block.url is not None:
            return ImagePart.from_url(str(block.url))
    except ImageError as exc:
        msg = f"{where}: {exc}"
        raise ImageError(msg) from None
    msg = f"{where} is an ImageBlock with no image, path or url"
    raise ImageError(msg)


class ResponseBuilder:
    """Turns client events into chat responses: the one mapping every stream uses."""

    def __init__(self) -> None:
        """Nothing received yet."""
        # Each response carries the whole text so far; a running string costs one copy per
        # delta, where joining a list of every delta each time costs a pass over all of them.
        self._text = ""
        self._reasoning = ""
        self._calls: list[ToolCall] = []

    def feed(self, event: ChatEvent) -> ChatResponse | None:
        """The response ``event`` makes, if it makes one."""
        if isinstance(event, TextDelta):
            self._text += event.text
            return self._response(delta=event.text)
        if isinstance(event, ReasoningDelta):
            self._reasoning += event.text
            return None  # reasoning is kept apart; it shows in the final message
        if isinstance(event, ToolCall):
            self._calls.append(event)
            return None  # calls show whole, in the final message
        return self._finish(event)

    def _finish(self, event: Finish) -> ChatResponse:
        extra: dict[str, Any] = {"finish_reason": event.reason, "model": event.model}
        if event.tool_call_problem is not None:
            extra["tool_call_problem"] = event.tool_call_problem
        if event.reconnects:  # the connection dropped mid-reply and the reply was resumed
            extra["reconnects"] = event.reconnects
        if event.usage is not None:
            extra.update(
                prompt_tokens=event.usage.input_tokens,
                completion_tokens=event.usage.output_tokens,
                total_tokens=event.usage.total_tokens,
            )
        return self._response(delta="", additional_kwargs=extra)

    def _response(
        self, *, delta: str, additional_kwargs: dict[str, Any] | None = None
    ) -> ChatResponse:
        blocks: list[Any] = []
        if self._reasoning:
            blocks.append(ThinkingBlock(content=self._reasoning))
        blocks.append(TextBlock(text=self._text))
        blocks.extend(
            ToolCallBlock(tool_call_id=c.id, tool_name=c.name, tool_kwargs=dict(c.arguments))
            for c in self._calls
        )
        message = ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks)
        return ChatResponse(message=message, delta=delta, additional_kwargs=additional_kwargs or {})


def last_response(responses: ChatResponseGen) -> ChatResponse:
    """The last of ``responses``: the whole reply."""
    last: ChatResponse | None = None
    for last in responses:  # noqa: B007 (the last one is the whole reply)
        pass
    assert last is not None  # noqa: S101 (every stream ends with a response)
    return last


def as_completion(response: ChatResponse) -> CompletionResponse:
    """A chat response as a completion response."""
    return CompletionResponse(
        text=response.message.content or "",
        delta=response.delta,
        raw=response.raw,
        additional_kwargs=response.additional_kwargs,
    )

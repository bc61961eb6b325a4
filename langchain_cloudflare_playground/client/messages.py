"""Chat messages as the client accepts them, and their normal form.

Callers may pass plain dicts (``{"role": "user", "content": "Hi"}``) or :class:`Message`. Content
may be a string or a list of parts: text parts are joined, and a user message's image parts become
its :attr:`Message.images` (every form ``images.image_of_part`` reads: OpenAI's ``image_url``,
LangChain's ``image`` blocks, :class:`~langchain_cloudflare_playground.client.images.ImagePart`).
Anything the playground cannot carry (audio, files, an image outside a user message) raises a
``ValueError`` that names the part, instead of being dropped.

Tool calling travels as text too: an assistant dict may carry ``tool_calls`` (``id``, ``name``,
``arguments``), and ``{"role": "tool", "tool_call_id": ..., "content": ...}`` carries a result.
Both are kept as they are here, on the turn, and written into its text once the model is known,
each model family its own way (``tools.offerings``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, get_args

from langchain_cloudflare_playground.client.errors import ImageError
from langchain_cloudflare_playground.client.images import ImagePart, image_of_part
from langchain_cloudflare_playground.client.tools.spec import ToolCall, ToolResult

__all__ = ["Conversation", "Message", "MessageInput", "Role", "normalize_messages"]

Role = Literal["system", "user", "assistant"]
_ROLES: tuple[str, ...] = get_args(Role)
# Roles other libraries use for the same thing.
_ROLE_SYNONYMS = {"human": "user", "ai": "assistant", "developer": "system"}
_TEXT_PART_TYPES = ("text", "input_text", "output_text")


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message in the client's normal form: a role and plain text.

    An assistant turn may also hold the tool calls it made, and a user turn the results of
    earlier calls; ``tools.offerings`` writes them into the text for the model in use. A user
    turn may hold images, sent with its text.
    """

    role: Role
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_results: tuple[ToolResult, ...] = ()
    images: tuple[ImagePart, ...] = ()


MessageInput = Message | Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Conversation:
    """Normalised messages: every system message joined into one prompt, then the turns."""

    system: str | None
    turns: tuple[Message, ...]

    @property
    def has_tool_turns(self) -> bool:
        """Whether a turn holds tool calls or results still to be written into its text."""
        return any(turn.tool_calls or turn.tool_results for turn in self.turns)

    @property
    def images(self) -> tuple[ImagePart, ...]:
        """Every image of every turn, in order."""
        return tuple(image for turn in self.turns for image in turn.images)

    def with_images(self, fetched: Mapping[str, ImagePart]) -> Conversation:
        """This conversation with each ``http(s)`` image replaced by its fetched part (by URL)."""
        turns = tuple(
            replace(
                turn,
                images=tuple(
                    fetched.get(image.url, image) if image.url is not None else image
                    for image in turn.images
                ),
            )
            if turn.images
            else turn
            for turn in self.turns
        )
        return replace(self, turns=turns)


def normalize_messages(messages: Iterable[MessageInput] | str) -> Conversation:
    """Turn caller messages into a :class:`Conversation`.

    Several system messages, wherever they stand, are joined with blank lines, since the
    playground takes one system prompt.

    Raises:
        ValueError: for an unknown role, a part that is neither text nor (in a user message) an
            image, an image that cannot be sent (an ``ImageError``), or no user/assistant turn.
    """
    if isinstance(messages, str):
        messages = [Message("user", messages)]
    system_parts: list[str] = []
    turns: list[Message] = []
    results: list[ToolResult] = []  # adjacent results go back to the model as one turn
    calls: dict[str, tuple[str, int]] = {}  # call id -> tool name, place in its turn
    for index, raw in enumerate(messages):
        if isinstance(raw, Mapping) and raw.get("role") == "tool":
            results.append(_to_tool_result(raw, index, calls))
            continue
        if results:
            turns.append(Message("user", "", tool_results=tuple(results)))
            results = []
        message = _to_message(raw, index, calls)
        if message.role == "system":
            system_parts.append(message.content)
        else:
            turns.append(message)
    if results:
        turns.append(Message("user", "", tool_results=tuple(results)))
    if not turns:
        msg = "messages must contain at least one user message; got only system messages or none."
        raise ValueError(msg)
    system = "\n\n".join(part for part in system_parts if part) or None
    return Conversation(system=system, turns=tuple(turns))


def _to_message(raw: MessageInput, index: int, calls: dict[str, tuple[str, int]]) -> Message:
    if isinstance(raw, Message):
        if raw.images and raw.role != "user":
            raise _misplaced_image(index, 0, raw.role)
        return raw
    if not isinstance(raw, Mapping):
        msg = (
            f"messages[{index}] is a {type(raw).__name__}; pass a dict like"
            ' {"role": "user", "content": "Hi"} or a Message.'
        )
        raise TypeError(msg)
    role = str(raw.get("role", ""))
    role = _ROLE_SYNONYMS.get(role, role)
    if role not in _ROLES:
        msg = (
            f"messages[{index}] has role {raw.get('role')!r}; the playground takes"
            f" {', '.join(_ROLES)}."
        )
        raise ValueError(msg)
    content, images = _flatten_content(raw.get("content", ""), index, role)
    made = raw.get("tool_calls")
    if role == "assistant" and made:
        parsed = [_to_tool_call(call, index) for call in _as_list(made, index)]
        calls.update((call.id, (call.name, place)) for place, call in enumerate(parsed, 1))
        return Message("assistant", content, tool_calls=tuple(parsed))
    return Message(role, content, images=images)  # type: ignore[arg-type]  # checked above


def _to_tool_call(raw: object, index: int) -> ToolCall:
    if isinstance(raw, ToolCall):
        return raw
    if isinstance(raw, Mapping) and isinstance(raw.get("name"), str):
        arguments = raw.get("arguments", raw.get("args", {}))
        if isinstance(arguments, Mapping):
            return ToolCall(str(raw.get("id") or ""), str(raw["name"]), dict(arguments))
    msg = (
        f"messages[{index}].tool_calls holds {raw!r}; each call needs a 'name' and an"
        " 'arguments' object (and an 'id' that the tool result refers to)."
    )
    raise ValueError(msg)


def _to_tool_result(
    raw: Mapping[str, Any], index: int, calls: dict[str, tuple[str, int]]
) -> ToolResult:
    call_id = str(raw.get("tool_call_id") or "")
    known_name, place = calls.get(call_id, (None, None))
    name = raw.get("name") or known_name
    if not name:
        msg = (
            f"messages[{index}] is a tool result for an unknown call {call_id!r}; give it the"
            " 'tool_call_id' of a call in an earlier assistant message, or a 'name'."
        )
        raise ValueError(msg)
    content, _ = _flatten_content(raw.get("content", ""), index, "tool")
    # The model sees the call's place in its turn, not the id: ids are random (uuids from
    # LangChain's few-shot helpers, ours), and a prompt that changes with them on every run
    # would never match a recorded cassette.
    reference = str(place) if place is not None else call_id
    return ToolResult(reference, str(name), content, is_error=bool(raw.get("is_error")))


def _as_list(value: object, index: int) -> list[object]:
    if isinstance(value, (list, tuple)):
        return list(value)
    msg = f"messages[{index}].tool_calls must be a list of calls."
    raise TypeError(msg)


def _flatten_content(content: object, index: int, role: str) -> tuple[str, tuple[ImagePart, ...]]:
    """The text of ``content`` and (in a user message) its images."""
    if isinstance(content, str):
        return content, ()
    if isinstance(content, ImagePart):
        content = [content]
    if not isinstance(content, Sequence):
        msg = f"messages[{index}].content must be a string or a list of text and image parts."
        raise TypeError(msg)
    texts: list[str] = []
    images: list[ImagePart] = []
    for part_index, part in enumerate(content):
        if isinstance(part, str):
            texts.append(part)
        elif isinstance(part, Mapping) and part.get("type") in _TEXT_PART_TYPES:
            texts.append(str(part.get("text", "")))
        else:
            try:
                image = image_of_part(part)
            except ImageError as exc:
                msg = f"messages[{index}].content[{part_index}]: {exc}"
                raise ImageError(msg) from None
            if image is None:
                kind = part.get("type") if isinstance(part, Mapping) else type(part).__name__
                msg = (
                    f"messages[{index}].content[{part_index}] is a {kind!r} part; the Cloudflare"
                    " AI Playground takes text, and images in user messages. Remove the part or"
                    " describe it in text."
                )
                raise ValueError(msg)
            if role != "user":
                raise _misplaced_image(index, part_index, role)
            images.append(image)
    return "".join(texts), tuple(images)


def _misplaced_image(index: int, part_index: int, role: str) -> ImageError:
    where = "a tool result" if role == "tool" else f"a {role} message"
    return ImageError(
        f"messages[{index}].content[{part_index}] is an image in {where}; the playground takes"
        " images in user messages only. Put the image in a user message."
    )

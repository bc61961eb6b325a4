"""A ``POST /v1/chat/completions`` body, checked once, into the client's terms.

Every field OpenAI documents is either carried (``messages``, ``tools``, ``temperature``...),
accepted because it cannot change the reply (``user``, ``metadata``, ``store``...), or refused
with a 400 naming it when it would change the reply and the playground cannot honour it (``n``
other than 1, ``logprobs``, ``seed``...). A field OpenAI does not document is refused too, as
OpenAI itself refuses it: a typo must not pass for a setting that took.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from langchain_cloudflare_playground.client.json_replies import json_instruction
from langchain_cloudflare_playground.serve.openai_errors import bad_request

if TYPE_CHECKING:
    from langchain_cloudflare_playground.client.options import ChatOptions

__all__ = ["CompletionRequest", "ResponseFormat", "parse_completion_request"]

# Fields that cannot change the reply: accepted and not used.
_HARMLESS = frozenset(
    {"user", "metadata", "store", "service_tier", "safety_identifier", "prompt_cache_key"}
)
# Fields the playground cannot honour, accepted only with the value that changes nothing.
_ONLY_DEFAULT: dict[str, tuple[object, ...]] = {
    "n": (1,),
    "logprobs": (False,),
    "top_logprobs": (0,),
    "top_p": (1, 1.0),
    "presence_penalty": (0, 0.0),
    "frequency_penalty": (0, 0.0),
    "logit_bias": ({},),
    "modalities": (["text"],),
    "seed": (),
    "audio": (),
    "prediction": (),
    "reasoning_effort": (),
    "verbosity": (),
    "web_search_options": (),
    "functions": (),
    "function_call": (),
}
_CARRIED = frozenset(
    {
        "model",
        "messages",
        "stream",
        "stream_options",
        "temperature",
        "max_tokens",
        "max_completion_tokens",
        "stop",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "response_format",
    }
)
_MAX_TEMPERATURE = 2.0
_MAX_STOPS = 4
_SCHEMA_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_TEXT_PARTS = ("text", "refusal")
_SCHEMA_TOOL_DESCRIPTION = "Give the answer as the arguments of this call."


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    """A ``response_format`` that asks for JSON.

    Attributes:
        kind: ``"json_object"`` (any object) or ``"json_schema"`` (one that fits ``schema``).
        name: The schema's name (``json_schema`` only).
        schema: The JSON schema (``json_schema`` only).
        description: What the schema is for, if given.
    """

    kind: Literal["json_object", "json_schema"]
    name: str = ""
    schema: Mapping[str, Any] | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class CompletionRequest:
    """A chat completion request, checked, with its messages and tools in the client's shape.

    ``model`` is ``None`` when the request names none: the server's default model runs it.
    """

    model: str | None
    messages: tuple[dict[str, Any], ...]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[dict[str, Any], ...] = ()
    tool_choice: str | None = None
    parallel_tool_calls: bool = True
    response_format: ResponseFormat | None = None

    def chat_options(self, model: str) -> ChatOptions:
        """The client's options for this request, run on ``model`` (the resolved id).

        A ``json_schema`` response format becomes a tool the model must call (so its arguments
        are checked against the schema, and sent back once to be fixed); ``json_object`` is an
        instruction (see :meth:`chat_messages`).
        """
        options: ChatOptions = {"model": model, "temperature": self.temperature}
        if self.max_tokens is not None:
            options["max_tokens"] = self.max_tokens
        fmt = self.response_format
        if fmt is not None and fmt.kind == "json_schema":
            schema_tool = {
                "name": fmt.name,
                "description": fmt.description or _SCHEMA_TOOL_DESCRIPTION,
                "parameters": dict(fmt.schema or {}),
            }
            options["tools"] = [schema_tool]
            options["tool_choice"] = fmt.name
        elif self.tools:
            options["tools"] = list(self.tools)
            options["tool_choice"] = self.tool_choice
        return options

    def chat_messages(self) -> list[dict[str, Any]]:
        """The conversation for the client, with the JSON instruction first for ``json_object``."""
        if self.response_format is not None and self.response_format.kind == "json_object":
            return [{"role": "system", "content": json_instruction()}, *self.messages]
        return list(self.messages)


def parse_completion_request(body: object) -> CompletionRequest:
    """Check a request body and put it in the client's terms.

    Raises:
        OpenAIError: a 400 that names the field at fault.
    """
    if not isinstance(body, Mapping):
        msg = "the request body must be a JSON object"
        raise bad_request(msg)
    _refuse_what_cannot_be_honoured(body)
    model = body.get("model")
    if model is not None and not isinstance(model, str):
        msg = "model must be a string: an alias such as 'llama-3.3-70b' or a full '@cf/...' id"
        raise bad_request(msg, "model")
    stream = _flag(body, "stream", default=False)
    options = _object(body, "stream_options")
    if options and not stream:
        msg = "stream_options is only allowed when stream is true"
        raise bad_request(msg, "stream_options")
    response_format = _response_format(body.get("response_format"))
    tools = _tools(body.get("tools"))
    if response_format is not None and response_format.kind == "json_schema" and tools:
        msg = (
            "response_format json_schema cannot be combined with tools here; send one or the other"
        )
        raise bad_request(msg, "response_format")
    return CompletionRequest(
        model=(model or "").strip() or None,
        messages=_messages(body.get("messages")),
        stream=stream,
        include_usage=bool(options.get("include_usage")),
        max_tokens=_max_tokens(body),
        temperature=_temperature(body.get("temperature")),
        stop=_stop(body.get("stop")),
        tools=tools,
        tool_choice=_tool_choice(body.get("tool_choice"), tools),
        parallel_tool_calls=_flag(body, "parallel_tool_calls", default=True),
        response_format=response_format,
    )


def _refuse_what_cannot_be_honoured(body: Mapping[str, Any]) -> None:
    for name, value in body.items():
        if name in _CARRIED or name in _HARMLESS or value is None:
            continue
        allowed = _ONLY_DEFAULT.get(name)
        if allowed is None:
            msg = f"unrecognized request argument supplied: {name}"
            raise bad_request(msg, name, "unknown_parameter")
        if value not in allowed:
            hint = f" (only {json.dumps(allowed[0])} is accepted)" if allowed else ""
            msg = (
                f"{name}={json.dumps(value)} is not supported: the Cloudflare AI Playground cannot"
                f" honour it{hint}"
            )
            raise bad_request(msg, name, "unsupported_parameter")


def _flag(body: Mapping[str, Any], name: str, *, default: bool) -> bool:
    value = body.get(name)
    if value is None:
        return default
    if not isinstance(value, bool):
        msg = f"{name} must be true or false"
        raise bad_request(msg, name)
    return value


def _object(body: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = body.get(name)
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        msg = f"{name} must be a JSON object"
        raise bad_request(msg, name)
    return value


def _max_tokens(body: Mapping[str, Any]) -> int | None:
    for name in ("max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            msg = f"{name} must be a whole number above 0"
            raise bad_request(msg, name)
        return value
    return None


def _temperature(value: object) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= _MAX_TEMPERATURE
    ):
        msg = f"temperature must be a number from 0 to {_MAX_TEMPERATURE:g}"
        raise bad_request(msg, "temperature")
    return float(value)


def _stop(value: object) -> tuple[str, ...]:
    if value is None:
        return ()
    stops = [value] if isinstance(value, str) else value
    if (
        not isinstance(stops, list)
        or len(stops) > _MAX_STOPS
        or not all(isinstance(stop, str) for stop in stops)
    ):
        msg = f"stop must be a string or a list of up to {_MAX_STOPS} strings"
        raise bad_request(msg, "stop")
    return tuple(stop for stop in stops if stop)


# -- messages -------------------------------------------------------------------------------


def _messages(value: object) -> tuple[dict[str, Any], ...]:
    if not isinstance(value, list) or not value:
        msg = "messages must be a non-empty list of messages"
        raise bad_request(msg, "messages")
    return tuple(_message(raw, index) for index, raw in enumerate(value))


def _message(raw: object, index: int) -> dict[str, Any]:
    where = f"messages[{index}]"
    if not isinstance(raw, Mapping):
        msg = f"{where} must be an object with a role and content"
        raise bad_request(msg, where)
    role = raw.get("role")
    content = _content(raw.get("content"), where, images=role == "user")
    if role == "tool":
        call_id = raw.get("tool_call_id")
        if not isinstance(call_id, str) or not call_id:
            msg = f"{where} is a tool message without a tool_call_id"
            raise bad_request(msg, f"{where}.tool_call_id")
        return {"role": "tool", "tool_call_id": call_id, "content": content}
    if role not in _ROLES:
        msg = (
            f"{where} has role {role!r}; the roles are system, developer, user, assistant and"
            " tool (function messages are not supported: use tools)"
        )
        raise bad_request(msg, f"{where}.role")
    message: dict[str, Any] = {"role": _ROLES[str(role)], "content": content}
    calls = raw.get("tool_calls")
    if role == "assistant" and calls:
        message["tool_calls"] = _assistant_calls(calls, where)
    return message


def _content(value: object, where: str, *, images: bool = False) -> str | list[dict[str, Any]]:
    """A message's content: its text, or (``images``: a user message) text and image parts.

    Image parts go on as the client takes them (``image_url``, a ``data:`` or http(s) URL); the
    client checks each image (type, size, the model's vision) before anything is sent.
    """
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, list):
        msg = f"{where}.content must be a string or a list of content parts"
        raise bad_request(msg, f"{where}.content")
    parts: list[dict[str, Any]] = []
    for place, part in enumerate(value):
        kind = part.get("type") if isinstance(part, Mapping) else None
        if isinstance(part, Mapping) and kind in _TEXT_PARTS:
            parts.append({"type": "text", "text": str(part.get(kind) or "")})
            continue
        param = f"{where}.content[{place}]"
        if kind == "image_url" and isinstance(part, Mapping):
            if not images:
                msg = f"{param} is an image part; only user messages carry images"
                raise bad_request(msg, param)
            parts.append({"type": "image_url", "image_url": _image_url(part, param)})
            continue
        msg = (
            f"{param} is a {kind!r} part; the Cloudflare AI Playground takes text and image_url"
            " parts only"
        )
        raise bad_request(msg, param)
    if all(part["type"] == "text" for part in parts):
        return "".join(part["text"] for part in parts)
    return parts


def _image_url(part: Mapping[str, Any], param: str) -> dict[str, str]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, Mapping) else image
    if not isinstance(url, str) or not url:
        msg = f"{param}.image_url must be {{'url': 'data:...' or 'https://...'}}"
        raise bad_request(msg, f"{param}.image_url")
    return {"url": url}


def _assistant_calls(value: object, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list):
        msg = f"{where}.tool_calls must be a list"
        raise bad_request(msg, f"{where}.tool_calls")
    calls = []
    for place, raw in enumerate(value):
        param = f"{where}.tool_calls[{place}]"
        function = raw.get("function") if isinstance(raw, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            msg = (
                f"{param} must be {{'id', 'type': 'function', 'function': {{'name', 'arguments'}}}}"
            )
            raise bad_request(msg, param)
        arguments = _call_arguments(function.get("arguments"), f"{param}.function.arguments")
        call_id = raw.get("id") if isinstance(raw, Mapping) else None
        calls.append({"id": str(call_id or ""), "name": function["name"], "arguments": arguments})
    return calls


def _call_arguments(value: object, param: str) -> dict[str, Any]:
    if value is None or value == "":
        return {}
    if isinstance(value, Mapping):
        return dict(value)
    try:
        arguments = json.loads(value) if isinstance(value, str) else None
    except ValueError:
        arguments = None
    if not isinstance(arguments, dict):
        msg = f"{param} must be the JSON text of an object"
        raise bad_request(msg, param)
    return arguments


# -- tools and response formats --------------------------------------------------------------


def _tools(value: object) -> tuple[dict[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        msg = "tools must be a list of function tools"
        raise bad_request(msg, "tools")
    tools = []
    for index, raw in enumerate(value):
        param = f"tools[{index}]"
        function = raw.get("function") if isinstance(raw, Mapping) else None
        if (
            not isinstance(raw, Mapping)
            or raw.get("type", "function") != "function"
            or not isinstance(function, Mapping)
            or not isinstance(function.get("name"), str)
        ):
            msg = f"{param} must be {{'type': 'function', 'function': {{'name', ...}}}}"
            raise bad_request(msg, param)
        parameters = function.get("parameters")
        if parameters is not None and not isinstance(parameters, Mapping):
            msg = f"{param}.function.parameters must be a JSON schema object"
            raise bad_request(msg, f"{param}.function.parameters")
        tools.append(
            {
                "name": function["name"],
                "description": str(function.get("description") or ""),
                "parameters": dict(parameters or {"type": "object", "properties": {}}),
            }
        )
    return tuple(tools)


def _tool_choice(value: object, tools: tuple[dict[str, Any], ...]) -> str | None:
    if value is None:
        return None
    if isinstance(value, str) and value in ("auto", "none", "required"):
        choice = value
    elif isinstance(value, Mapping) and value.get("type") == "function":
        function = value.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if not isinstance(name, str):
            msg = "tool_choice must name a function: {'type': 'function', 'function': {'name'}}"
            raise bad_request(msg, "tool_choice")
        choice = name
    else:
        msg = "tool_choice must be 'auto', 'none', 'required' or {'type': 'function', ...}"
        raise bad_request(msg, "tool_choice")
    if choice == "required" and not tools:
        msg = "tool_choice 'required' needs tools"
        raise bad_request(msg, "tool_choice")
    if choice not in ("auto", "none", "required") and all(tool["name"] != choice for tool in tools):
        msg = f"tool_choice names {choice!r}, which is not among the tools"
        raise bad_request(msg, "tool_choice")
    return choice


def _response_format(value: object) -> ResponseFormat | None:
    if value is None:
        return None
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind == "text":
        return None
    if kind == "json_object":
        return ResponseFormat("json_object")
    if kind != "json_schema" or not isinstance(value, Mapping):
        msg = "response_format type must be 'text', 'json_object' or 'json_schema'"
        raise bad_request(msg, "response_format")
    spec = value.get("json_schema")
    name = spec.get("name") if isinstance(spec, Mapping) else None
    if not isinstance(spec, Mapping) or not isinstance(name, str) or not _SCHEMA_NAME.match(name):
        msg = "response_format.json_schema needs a name of letters, digits, _ and - (at most 64)"
        raise bad_request(msg, "response_format.json_schema.name")
    schema = spec.get("schema") or {"type": "object", "properties": {}}
    if not isinstance(schema, Mapping) or schema.get("type", "object") != "object":
        msg = "response_format.json_schema.schema must be the JSON schema of an object"
        raise bad_request(msg, "response_format.json_schema.schema")
    return ResponseFormat("json_schema", name, dict(schema), str(spec.get("description") or ""))

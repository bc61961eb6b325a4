"""The pieces of each family's own tool format that the client writes.

Three kinds: how the tools are listed (JSON function definitions, Qwen3-Coder's XML, Gemma 4's
declarations, or harmony's TypeScript-like namespace), how an earlier assistant turn's calls are
written back (in the format the family writes them, so the model sees its own past turns as it
would have written them), and how results go back. Which family gets which is data, in
``offerings``; the facts and their sources are in ``docs/tool-formats.md``.

The playground carries only system, user and assistant turns, so results always travel in a user
turn: in the family's own result markup where it has one that is plain text (Qwen's, Hermes's,
GLM's, Nemotron's and Granite's ``<tool_response>``, Mistral's ``[TOOL_RESULTS]``, Gemma 3's
``tool_output`` fence, Gemma 4's ``<|tool_response>``), else in the generic words.
"""

from __future__ import annotations

import json
import keyword
import re
from typing import TYPE_CHECKING, Any

from langchain_cloudflare_playground.client.tools.gemma4_syntax import write_value
from langchain_cloudflare_playground.client.tools.prompt import with_calls

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from langchain_cloudflare_playground.client.tools.spec import Tool, ToolCall, ToolResult

__all__ = [
    "gemma_calls",
    "gemma_declarations",
    "gemma_results",
    "glm45_calls",
    "glm_calls",
    "glm_results",
    "harmony_calls",
    "hermes_calls",
    "json_definition_lines",
    "json_definition_list",
    "llama_json_calls",
    "mistral_call_id",
    "mistral_calls",
    "mistral_results",
    "pythonic_calls",
    "pythonic_names",
    "qwen3_coder_calls",
    "qwen_xml_calls",
    "tool_output_results",
    "tool_response_results",
    "typescript_namespace",
    "xml_function_listing",
]

_MAX_DEPTH = 8

# -- listing the tools ---------------------------------------------------------------------


def _definition(tool: Tool) -> dict[str, Any]:
    """A tool as the OpenAI-style function definition most chat templates list."""
    function = {"name": tool.name, "description": tool.description.strip()}
    return {"type": "function", "function": {**function, "parameters": dict(tool.parameters)}}


def json_definition_lines(tools: Sequence[Tool]) -> str:
    """One JSON function definition per line (Qwen, Hermes, GLM, Llama 3.1)."""
    return "\n".join(json.dumps(_definition(tool), ensure_ascii=False) for tool in tools)


def json_definition_list(tools: Sequence[Tool]) -> str:
    """The function definitions as one JSON list (Llama 3.2 and 4, Gemma 3, Mistral)."""
    return json.dumps([_definition(tool) for tool in tools], ensure_ascii=False)


def xml_function_listing(tools: Sequence[Tool]) -> str:
    """Qwen3-Coder's and Nemotron 3's listing: a ``<function>`` of XML tags per tool.

    Each argument's name, type, description and enum have tags of their own; any other key of
    its schema gets a tag of its name (JSON inside for lists and mappings), as the templates do.
    """
    functions = []
    for tool in tools:
        lines = [
            "<function>",
            f"<name>{tool.name}</name>",
            f"<description>{tool.description.strip()}</description>",
            "<parameters>",
        ]
        properties = tool.parameters.get("properties")
        for name, given in (properties if isinstance(properties, dict) else {}).items():
            spec = given if isinstance(given, dict) else {}
            lines += ["<parameter>", f"<name>{name}</name>"]
            if "type" in spec:
                lines.append(f"<type>{_template_text(spec['type'])}</type>")
            if "description" in spec:
                lines.append(f"<description>{str(spec['description']).strip()}</description>")
            if "enum" in spec:
                lines.append(f"<enum>{_json(spec['enum'])}</enum>")
            lines += _extra_tags(spec, ("name", "type", "description", "enum"))
            lines.append("</parameter>")
        lines += _extra_tags(tool.parameters, ("type", "properties", "required"))
        if "required" in tool.parameters:
            lines.append(f"<required>{_json(tool.parameters['required'])}</required>")
        lines += ["</parameters>", "</function>"]
        functions.append("\n".join(lines))
    return "\n".join(functions)


def _extra_tags(schema: Mapping[str, Any], handled: tuple[str, ...]) -> list[str]:
    return [
        f"<{key}>{_template_text(v)}</{key}>" for key, v in schema.items() if key not in handled
    ]


def _template_text(value: object) -> str:
    """``value`` as Qwen3-Coder's and Nemotron 3's templates write it.

    Lists and mappings as JSON, anything else as Python's ``str`` writes it (``True``, ``None``).
    """
    return _json(value) if isinstance(value, (dict, list)) else str(value)


def gemma_declarations(tools: Sequence[Tool]) -> str:
    """Gemma 4's ``<|tool>declaration:NAME{description:...,parameters:{...}}<tool|>`` per tool.

    The parameters keep what Gemma's template declares (description, type in capitals, enum,
    nullable, properties, required, items); references are resolved and ``Optional``'s
    ``anyOf`` with null becomes ``nullable``.
    """
    declarations = []
    for tool in tools:
        declared = {
            "description": tool.description.strip(),
            "parameters": _gemma_schema(tool.parameters, tool.parameters, 0),
        }
        declarations.append(f"<|tool>declaration:{tool.name}{write_value(declared)}<tool|>")
    return "".join(declarations)


def _gemma_schema(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> dict[str, Any]:
    if depth >= _MAX_DEPTH:
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _gemma_schema({**_pointer(root, ref), **_without(schema, "$ref")}, root, depth + 1)
    declared = _gemma_optional(schema, root, depth)
    declared.update(_gemma_type(schema.get("type")))
    declared.update({key: schema[key] for key in ("description", "enum") if key in schema})
    properties = schema.get("properties")
    if isinstance(properties, dict) and properties:
        declared["properties"] = {
            str(name): _gemma_schema(p if isinstance(p, dict) else {}, root, depth + 1)
            for name, p in properties.items()
        }
    required = schema.get("required")
    if isinstance(required, list) and required:
        declared["required"] = [name for name in required if isinstance(name, str)]
    items = schema.get("items")
    if isinstance(items, dict):
        declared["items"] = _gemma_schema(items, root, depth + 1)
    return declared


def _gemma_optional(
    schema: Mapping[str, Any], root: Mapping[str, Any], depth: int
) -> dict[str, Any]:
    """``anyOf`` (or ``oneOf``) of one schema and null, ``Optional``'s shape: that one, nullable."""
    branches = [b for b in schema.get("anyOf") or schema.get("oneOf") or () if isinstance(b, dict)]
    others = [b for b in branches if b.get("type") != "null"]
    if len(others) != 1:
        return {}
    declared = _gemma_schema(others[0], root, depth + 1)
    return {**declared, "nullable": True} if len(branches) > 1 else declared


def _gemma_type(kind: object) -> dict[str, Any]:
    """A schema's ``type`` as Gemma 4 declares it: in capitals, with ``null`` as ``nullable``."""
    if isinstance(kind, str):
        return {"type": kind.upper()}
    if not isinstance(kind, list):
        return {}
    named = [k.upper() for k in kind if isinstance(k, str) and k != "null"]
    declared: dict[str, Any] = {"nullable": True} if "null" in kind else {}
    return {**declared, "type": named[0]} if named else declared


def typescript_namespace(tools: Sequence[Tool]) -> str:
    """gpt-oss's ``namespace functions``: one TypeScript-like type per tool."""
    types = []
    for tool in tools:
        comment = _comment(tool.description)
        schema = dict(tool.parameters)
        properties = schema.get("properties")
        if isinstance(properties, dict) and properties:
            shape = f"(_: {_ts_object(schema, schema, 0)}) => any;"
        else:
            shape = "() => any;"
        types.append(f"{comment}type {tool.name} = {shape}")
    return "namespace functions {\n\n" + "\n\n".join(types) + "\n\n} // namespace functions"


def _comment(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return "".join(f"// {line}\n" for line in lines)


def _ts_object(schema: Mapping[str, Any], root: Mapping[str, Any], depth: int) -> str:
    properties = schema.get("properties")
    if not isinstance(properties, dict) or not properties or depth >= _MAX_DEPTH:
        return "object"
    required = schema.get("required")
    needed = {n for n in required if isinstance(n, str)} if isinstance(required, list) else set()
    lines = ["{"]
    for name, given in properties.items():
        spec = given if isinstance(given, dict) else {}
        description = spec.get("description")
        if isinstance(description, str):
            lines.append(_comment(description).rstrip("\n"))
        optional = "" if name in needed else "?"
        default = f" // default: {json.dumps(spec['default'])}" if "default" in spec else ""
        # A name that is not an identifier is quoted, as TypeScript writes it.
        key = name if name.isidentifier() else _json(name)
        lines.append(f"{key}{optional}: {_ts_type(spec, root, depth + 1)},{default}")
    lines.append("}")
    return "\n".join(line for line in lines if line)


def _ts_type(  # noqa: PLR0911 (one branch per JSON schema type)
    schema: Mapping[str, Any], root: Mapping[str, Any], depth: int
) -> str:
    if depth >= _MAX_DEPTH:
        return "any"
    ref = schema.get("$ref")
    if isinstance(ref, str):
        return _ts_type(_pointer(root, ref), root, depth + 1)
    for key in ("anyOf", "oneOf"):
        branches = [b for b in schema.get(key) or () if isinstance(b, dict)]
        if branches:
            return " | ".join(_ts_type(b, root, depth + 1) for b in branches)
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        return " | ".join(json.dumps(value, ensure_ascii=False) for value in enum)
    if "const" in schema:
        return json.dumps(schema["const"], ensure_ascii=False)
    kind = schema.get("type")
    if isinstance(kind, list):
        kinds = [k for k in kind if isinstance(k, str)] or ["any"]
        # Only the object branch of ["object", "null"] has the properties.
        return " | ".join(
            _ts_type({**_without(schema, "properties"), "type": k}, root, depth + 1)
            if k != "object"
            else _ts_type({**schema, "type": k}, root, depth + 1)
            for k in kinds
        )
    if kind == "array":
        items = schema.get("items")
        item = _ts_type(items, root, depth + 1) if isinstance(items, dict) else "any"
        return f"({item})[]" if " | " in item else f"{item}[]"
    if kind == "object" or "properties" in schema:
        return _ts_object(schema, root, depth + 1)
    return _TS_SCALARS.get(str(kind), "any")


_TS_SCALARS = {
    "string": "string",
    "integer": "number",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
}


def _without(schema: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in schema.items() if k != key}


def _pointer(root: Mapping[str, Any], ref: str) -> Mapping[str, Any]:
    node: Any = root
    for part in ref.lstrip("#").split("/")[1:]:
        node = (
            node.get(part.replace("~1", "/").replace("~0", "~")) if isinstance(node, dict) else None
        )
    return node if isinstance(node, dict) else {}


# -- earlier calls, as the family writes them ----------------------------------------------


def _json(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def llama_json_calls(text: str, calls: Sequence[ToolCall]) -> str:
    """Llama 3.1/3.3: ``{"name": ..., "parameters": {...}}``, one per line."""
    lines = [_json({"name": c.name, "parameters": dict(c.arguments)}) for c in calls]
    return with_calls(text, "\n".join(lines))


def pythonic_calls(text: str, calls: Sequence[ToolCall]) -> str:
    """Llama 3.2/4 and Gemma 3: ``[name(argument=value, ...), ...]``."""
    written = [
        f"{c.name}({', '.join(f'{key}={_python(value)}' for key, value in c.arguments.items())})"
        for c in calls
    ]
    return with_calls(text, f"[{', '.join(written)}]")


def pythonic_names(tools: Sequence[Tool], calls: Sequence[ToolCall]) -> bool:
    """Whether every tool and argument name can be written as Python call syntax.

    ``get-weather(...)`` or ``convert(from=...)`` is not Python, and the pythonic format is read
    as Python: a family that writes it is offered the generic format instead for such tools.
    """
    names = [tool.name for tool in tools] + [call.name for call in calls]
    properties = [tool.parameters.get("properties") for tool in tools]
    names += [str(key) for given in properties if isinstance(given, dict) for key in given]
    names += [str(key) for call in calls for key in call.arguments]
    return all(name.isidentifier() and not keyword.iskeyword(name) for name in names)


def _python(value: object) -> str:
    """``value`` as a Python literal (the pythonic format is read as Python)."""
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return f"[{', '.join(_python(item) for item in value)}]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_json(str(k))}: {_python(v)}" for k, v in value.items()) + "}"
    return _json(str(value))


def hermes_calls(text: str, calls: Sequence[ToolCall]) -> str:
    """Qwen and Hermes: one ``<tool_call>`` tag per call around ``{"name", "arguments"}``."""
    tags = [
        f"<tool_call>\n{_json({'name': c.name, 'arguments': dict(c.arguments)})}\n</tool_call>"
        for c in calls
    ]
    return with_calls(text, "\n".join(tags))


def glm_calls(text: str, calls: Sequence[ToolCall]) -> str:
    """GLM 4.7 and later: the name, then ``<arg_key>``/``<arg_value>`` pairs, no line breaks.

    Several calls stand back to back.
    """
    return with_calls(text, "".join(_glm_call(call, "") for call in calls))


def glm45_calls(text: str, calls: Sequence[ToolCall]) -> str:
    """GLM 4.5 and 4.6: as 4.7, with a line break after the name and after each tag."""
    return with_calls(text, "\n".join(_glm_call(call, "\n") for call in calls))


def _glm_call(call: ToolCall, newline: str) -> str:
    pairs = "".join(
        f"<arg_key>{key}</arg_key>{newline}<arg_value>"
        f"{value if isinstance(value, str) else _json(value)}</arg_value>{newline}"
        for key, value in call.arguments.items()
    )
    return f"<tool_call>{call.name}{newline}{pairs}</tool_call>"


def qwen_xml_calls(text: str, calls: Sequence[ToolCall]) -> str:
    """Qwen 3.5 and later: Qwen3-Coder's ``<function=NAME>`` tags, non-strings as JSON."""
    return with_calls(text, _xml_calls(calls, _json))


def qwen3_coder_calls(text: str, calls: Sequence[ToolCall]) -> str:
    """Qwen3-Coder and Nemotron 3: ``<function=NAME>`` tags, values as their templates write.

    Lists and mappings as JSON, other values as Python writes them (``True``, ``None``).
    """
    return with_calls(text, _xml_calls(calls, _template_text))


def _xml_calls(calls: Sequence[ToolCall], written: Callable[[object], str]) -> str:
    tags = []
    for call in calls:
        parameters = "".join(
            f"<parameter={key}>\n{value if isinstance(value, str) else written(value)}\n"
            "</parameter>\n"
            for key, value in call.arguments.items()
        )
        tags.append(f"<tool_call>\n<function={call.name}>\n{parameters}</function>\n</tool_call>")
    return "\n".join(tags)


def gemma_calls(text: str, calls: Sequence[ToolCall]) -> str:
    """Gemma 4: ``<|tool_call>call:NAME{key:value,...}<tool_call|>`` per call, back to back."""
    written = "".join(
        f"<|tool_call>call:{c.name}{write_value(dict(c.arguments))}<tool_call|>" for c in calls
    )
    return with_calls(text, written)


def mistral_calls(text: str, calls: Sequence[ToolCall]) -> str:
    """Mistral: ``[TOOL_CALLS]`` and a JSON list of calls, each with its 9-character id."""
    listed = [
        {"name": c.name, "arguments": dict(c.arguments), "id": mistral_call_id(str(place))}
        for place, c in enumerate(calls, 1)
    ]
    return with_calls(text, f"[TOOL_CALLS]{_json(listed)}")


def mistral_call_id(reference: str) -> str:
    """A call's place (or id) as Mistral's call ids are written: nine letters and digits.

    Made from the place, never random: a prompt that changed on every run would never match a
    recorded cassette.
    """
    if reference.isascii() and reference.isdigit():
        return f"call{int(reference) % 100_000:05d}"
    return (re.sub(r"[^A-Za-z0-9]", "", reference) + "0" * 9)[:9]


def harmony_calls(text: str, calls: Sequence[ToolCall]) -> str:
    """gpt-oss: a commentary message addressed to ``functions.NAME`` per call.

    The first continues the turn's own message; each further call is a message of its own, so it
    starts with ``<|start|>assistant``.
    """
    messages = [
        f"{'<|start|>assistant' if index else ''}<|channel|>commentary to=functions.{c.name}"
        f" <|constrain|>json<|message|>{_json(dict(c.arguments))}<|call|>"
        for index, c in enumerate(calls)
    ]
    return with_calls(text, "".join(messages))


# -- results, in the family's own markup ---------------------------------------------------


def _content(result: ToolResult) -> str:
    # A failed call is marked, once: LangChain's own error results already start with "Error".
    if not result.is_error or result.content.lstrip().lower().startswith("error"):
        return result.content
    return f"Error: {result.content}"


def tool_response_results(results: Sequence[ToolResult]) -> str:
    """Qwen, Hermes, GLM 4.5, Nemotron 3, Granite 4: each result in ``<tool_response>`` tags.

    Each on lines of its own, all in one user turn.
    """
    return "\n".join(f"<tool_response>\n{_content(r)}\n</tool_response>" for r in results)


def glm_results(results: Sequence[ToolResult]) -> str:
    """GLM 4.7 and later: ``<tool_response>`` tags with no line breaks, back to back."""
    return "".join(f"<tool_response>{_content(r)}</tool_response>" for r in results)


def gemma_results(results: Sequence[ToolResult]) -> str:
    """Gemma 4: ``<|tool_response>response:NAME{value:<|"|>...<|"|>}<tool_response|>`` each."""
    return "".join(
        f"<|tool_response>response:{r.name}{write_value({'value': _content(r)})}<tool_response|>"
        for r in results
    )


def tool_output_results(results: Sequence[ToolResult]) -> str:
    """Gemma 3: each result in a ``tool_output`` fence."""
    return "\n".join(f"```tool_output\n{_content(r)}\n```" for r in results)


def mistral_results(results: Sequence[ToolResult]) -> str:
    """Mistral: ``[TOOL_RESULTS]{"content": ..., "call_id": ...}[/TOOL_RESULTS]`` per result."""
    return "".join(
        f"[TOOL_RESULTS]{_json({'content': _content(r), 'call_id': mistral_call_id(r.call)})}"
        "[/TOOL_RESULTS]"
        for r in results
    )

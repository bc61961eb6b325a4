"""What the scripted model knows of each model family's own tool format, chosen by model id.

A real model reads tools offered the way it was trained and writes calls its own way. The scripted
model (``tests/scripted_model.py``) stands in for one model per family: given a model id it
recognises only that family's offering (a Qwen reads ``<tools>``, a gpt-oss reads a TypeScript
``namespace functions``, a Mistral reads ``[AVAILABLE_TOOLS]`` before the request, a Gemma 4 reads
``<|tool>declaration:...``), writes its
calls in the family's native format and recognises results in the family's own markup. Models of
no family here follow the package's generic format (``offerings.GENERIC``).

This is written from the formats' public descriptions (``docs/tool-formats.md``), not from the
package's writers: a test that offers a family the wrong way gets no call back.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = ["FAMILIES", "Offered", "ScriptedFamily", "family_for"]

Call = dict[str, Any]  # {"name": ..., "arguments": {...}}


@dataclass(frozen=True)
class Offered:
    """A tool offered to the model: its name and the JSON schema of its arguments."""

    name: str
    schema: dict[str, Any]


@dataclass(frozen=True)
class ScriptedFamily:
    """One family as the scripted model plays it.

    ``read_tools`` takes the system prompt and the last request; it returns the tools offered
    in the family's way, or ``None`` when they were not offered so. ``read_results`` returns the
    result texts of a turn written in the family's markup, or ``None``. ``results_answer_calls``
    (for a family whose calls carry ids) tells whether a turn of results names the calls of the
    assistant turn before it.
    """

    name: str
    models: re.Pattern[str]
    read_tools: Callable[[str, str], list[Offered] | None]
    write_calls: Callable[[str, list[Call]], str]
    read_results: Callable[[str], list[str] | None] | None  # None: the generic result blocks
    results_answer_calls: Callable[[str, str], bool] | None = None


# -- reading offered tools ----------------------------------------------------------------

_DEFINITION = re.compile(r'\{\s*"type"\s*:\s*"function"\s*,\s*"function"\s*:')


def _definitions(text: str) -> list[Offered]:
    """The OpenAI-style function definitions in ``text``, wherever they stand."""
    decoder = json.JSONDecoder()
    found = []
    for match in _DEFINITION.finditer(text):
        try:
            value, _ = decoder.raw_decode(text, match.start())
        except ValueError:
            continue
        function = value.get("function") if isinstance(value, dict) else None
        if isinstance(function, dict) and isinstance(function.get("name"), str):
            schema = function.get("parameters")
            found.append(Offered(function["name"], schema if isinstance(schema, dict) else {}))
    return found


def _between(text: str, opening: str, closing: str) -> str | None:
    start = text.find(opening)
    end = text.find(closing, start + len(opening))
    return text[start + len(opening) : end] if start >= 0 and end >= 0 else None


def _tagged_definitions(opening: str, closing: str, *marks: str) -> Callable[[str, str], Any]:
    """Definitions inside ``opening``...``closing`` of the system prompt, with ``marks`` there."""

    def read(system: str, request: str) -> list[Offered] | None:
        # The block on lines of its own; the prose before it names the tags too.
        inside = _between(system, f"{opening}\n", f"\n{closing}")
        if inside is None or not all(mark in system for mark in marks):
            return None
        return _definitions(inside) or None

    return read


def _listed_definitions(*marks: str) -> Callable[[str, str], Any]:
    """Definitions anywhere in the system prompt, with every one of ``marks`` there too."""

    def read(system: str, request: str) -> list[Offered] | None:
        if not all(mark in system for mark in marks):
            return None
        return _definitions(system) or None

    return read


_XML_FUNCTION = re.compile(r"<function>\n<name>(.*?)</name>\n(.*?)\n</function>", re.DOTALL)
_XML_PARAMETER = re.compile(r"<parameter>\n<name>(.*?)</name>\n(.*?)\n</parameter>", re.DOTALL)


def _xml_tools(system: str, request: str) -> list[Offered] | None:
    """Qwen3-Coder's ``<function>`` listing, as Nemotron 3's template writes it, read back."""
    inside = _between(system, "<tools>\n", "\n</tools>")
    if inside is None or "<function=example_function_name>" not in system:
        return None
    tools = []
    for name, body in _XML_FUNCTION.findall(inside):
        properties: dict[str, Any] = {}
        for argument, fields in _XML_PARAMETER.findall(body):
            kind = re.search(r"<type>(.*?)</type>", fields)
            enum = re.search(r"<enum>(.*?)</enum>", fields)
            properties[argument] = {"type": kind.group(1) if kind else "string"}
            if enum:
                properties[argument]["enum"] = json.loads(enum.group(1))
        required = re.search(r"<required>(.*?)</required>", body)
        schema: dict[str, Any] = {"type": "object", "properties": properties}
        if required:
            schema["required"] = json.loads(required.group(1))
        tools.append(Offered(name, schema))
    return tools or None


# Gemma 4's own syntax: strings between <|"|> tokens, keys bare.
_GEMMA_STRING = '<|"|>'
_GEMMA_DECLARATION = re.compile(r"<\|tool>declaration:([^{]+)(\{.*?\})<tool\|>", re.DOTALL)


def _gemma_json(text: str) -> Any:
    """Gemma 4's syntax read as JSON: strings quoted, then bare keys quoted."""
    pieces = text.split(_GEMMA_STRING)  # strings are the odd pieces
    return json.loads(
        "".join(
            json.dumps(piece) if i % 2 else re.sub(r"([{,])([^{}\[\],:\"]+):", r'\1"\2":', piece)
            for i, piece in enumerate(pieces)
        )
    )


def _lower_types(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: v.lower() if k == "type" else _lower_types(v) for k, v in schema.items()}
    return schema


def _gemma4_tools(system: str, request: str) -> list[Offered] | None:
    """Gemma 4's ``<|tool>declaration:NAME{...}<tool|>`` declarations, types in capitals."""
    tools = []
    for name, body in _GEMMA_DECLARATION.findall(system):
        declared = _gemma_json(body)
        tools.append(Offered(name, _lower_types(declared.get("parameters", {}))))
    return tools or None


def _mistral_tools(system: str, request: str) -> list[Offered] | None:
    inside = _between(request, "[AVAILABLE_TOOLS]", "[/AVAILABLE_TOOLS]")
    return (_definitions(inside) or None) if inside is not None else None


_TS_TYPE = re.compile(r"^type ([^\s=]+) = (?:\(\) => any;|\(_: \{)$")
_TS_PROPERTY = re.compile(r"^([^\s?:]+)(\??): (.+?),(?: // .*)?$")


def _harmony_tools(system: str, request: str) -> list[Offered] | None:
    """gpt-oss's ``namespace functions``, read back into JSON schemas."""
    inside = _between(system, "namespace functions {", "} // namespace functions")
    if inside is None:
        return None
    lines = [line.strip() for line in inside.split("\n")]
    tools = []
    index = 0
    while index < len(lines):
        header = _TS_TYPE.match(lines[index])
        index += 1
        if header is None:
            continue
        if lines[index - 1].endswith("() => any;"):
            tools.append(Offered(header.group(1), {"type": "object", "properties": {}}))
            continue
        schema, index = _ts_object(lines, index)
        tools.append(Offered(header.group(1), schema))
    return tools or None


def _ts_object(lines: list[str], index: int) -> tuple[dict[str, Any], int]:
    """Properties up to the closing brace; the schema and the index after the brace."""
    properties: dict[str, Any] = {}
    required: list[str] = []
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.startswith("}"):
            break
        if line.startswith("//") or not line:
            continue
        nested = re.match(r"^([^\s?:]+)(\??): \{$", line)
        if nested:
            schema, index = _ts_object(lines, index)
            name, optional = nested.groups()
        else:
            prop = _TS_PROPERTY.match(line)
            if prop is None:
                continue
            name, optional, kind = prop.groups()
            schema = _ts_type(kind)
        properties[name] = schema
        if not optional:
            required.append(name)
    return {"type": "object", "properties": properties, "required": required}, index


def _ts_type(kind: str) -> dict[str, Any]:
    if kind.endswith("[]"):
        return {"type": "array", "items": _ts_type(kind[:-2].strip("()"))}
    options = [option.strip() for option in kind.split("|")]
    if all(option.startswith('"') for option in options):
        return {"type": "string", "enum": [json.loads(option) for option in options]}
    simple = {"string": "string", "number": "number", "boolean": "boolean", "object": "object"}
    return {"type": simple.get(options[0], "string")}


# -- writing calls ------------------------------------------------------------------------


def _one_line(value: object) -> str:
    return json.dumps(value, ensure_ascii=False)


def _llama_json(prose: str, calls: list[Call]) -> str:
    written = "\n".join(_one_line({"name": c["name"], "parameters": c["arguments"]}) for c in calls)
    return f"{prose}{written}"


def _python(value: object) -> str:
    if value is None or isinstance(value, (bool, int, float)):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(map(_python, value)) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_one_line(k)}: {_python(v)}" for k, v in value.items()) + "}"
    return repr(str(value))  # Python's quotes: single, as Llama and Gemma often write


def _pythonic_list(calls: list[Call]) -> str:
    written = [
        f"{c['name']}({', '.join(f'{k}={_python(v)}' for k, v in c['arguments'].items())})"
        for c in calls
    ]
    return f"[{', '.join(written)}]"


def _pythonic(prose: str, calls: list[Call]) -> str:
    return f"{prose}{_pythonic_list(calls)}"


def _llama4(prose: str, calls: list[Call]) -> str:
    return f"{prose}<|python_start|>{_pythonic_list(calls)}<|python_end|>"


def _hermes(prose: str, calls: list[Call]) -> str:
    tags = [
        f"<tool_call>\n{_one_line({'name': c['name'], 'arguments': c['arguments']})}\n</tool_call>"
        for c in calls
    ]
    return prose + "\n".join(tags)


def _glm(prose: str, calls: list[Call]) -> str:
    """GLM 4.7 and later: no line breaks between the tags, calls back to back."""
    tags = []
    for call in calls:
        pairs = "".join(
            f"<arg_key>{key}</arg_key><arg_value>"
            f"{value if isinstance(value, str) else _one_line(value)}</arg_value>"
            for key, value in call["arguments"].items()
        )
        tags.append(f"<tool_call>{call['name']}{pairs}</tool_call>")
    return prose + "".join(tags)


def _xml_calls(written: Callable[[Any], str]) -> Callable[[str, list[Call]], str]:
    """Qwen3-Coder's ``<function=NAME>`` calls, non-string values as ``written`` writes them."""

    def write(prose: str, calls: list[Call]) -> str:
        tags = [
            f"<tool_call>\n<function={c['name']}>\n"
            + "".join(
                f"<parameter={k}>\n{v if isinstance(v, str) else written(v)}\n</parameter>\n"
                for k, v in c["arguments"].items()
            )
            + "</function>\n</tool_call>\n"
            for c in calls
        ]
        return prose + "".join(tags)

    return write


def _python_scalar(value: Any) -> str:
    """Nemotron 3's template: lists and mappings as JSON, other values as Python's str()."""
    return _one_line(value) if isinstance(value, (dict, list)) else str(value)


def _gemma_value(value: Any) -> str:
    if isinstance(value, str):
        return f"{_GEMMA_STRING}{value}{_GEMMA_STRING}"
    if isinstance(value, dict):
        return "{" + ",".join(f"{k}:{_gemma_value(v)}" for k, v in sorted(value.items())) + "}"
    if isinstance(value, list):
        return "[" + ",".join(map(_gemma_value, value)) + "]"
    return _one_line(value)  # numbers, true, false, null


def _gemma4(prose: str, calls: list[Call]) -> str:
    # The template writes <|tool_response> after the last call: the model stops on it.
    written = "".join(
        f"<|tool_call>call:{c['name']}{_gemma_value(c['arguments'])}<tool_call|>" for c in calls
    )
    return f"{prose}{written}<|tool_response>"


def _mistral(prose: str, calls: list[Call]) -> str:
    # Each call with an id of nine letters and digits, as Mistral's template requires.
    listed = [
        {"name": c["name"], "arguments": c["arguments"], "id": _mistral_id(place, c)}
        for place, c in enumerate(calls)
    ]
    return f"{prose}[TOOL_CALLS]{_one_line(listed)}"


def _mistral_id(place: int, call: Call) -> str:
    digest = hashlib.sha256(f"{place}:{call['name']}".encode()).hexdigest()
    return f"m{digest[:8]}"


def _harmony(prose: str, calls: list[Call]) -> str:
    messages = "".join(
        f"<|start|>assistant<|channel|>commentary to=functions.{c['name']}"
        f" <|constrain|>json<|message|>{_one_line(c['arguments'])}<|call|>"
        for c in calls
    )
    return f"{prose}{messages}"


# -- reading results ----------------------------------------------------------------------


def _tagged_results(opening: str, closing: str) -> Callable[[str], list[str] | None]:
    pattern = re.compile(f"{re.escape(opening)}(.*?){re.escape(closing)}", re.DOTALL)

    def read(text: str) -> list[str] | None:
        if not text.lstrip().startswith(opening):
            return None
        return [found.strip() for found in pattern.findall(text)]

    return read


_GEMMA_RESULT = re.compile(
    r"<\|tool_response>response:[^{]+\{value:<\|\"\|>(.*?)<\|\"\|>\}<tool_response\|>", re.DOTALL
)


def _gemma4_results(text: str) -> list[str] | None:
    if not text.startswith("<|tool_response>"):
        return None
    return _GEMMA_RESULT.findall(text)


def _mistral_results(text: str) -> list[str] | None:
    if not text.startswith("[TOOL_RESULTS]"):
        return None
    found = re.findall(r"\[TOOL_RESULTS\](.*?)\[/TOOL_RESULTS\]", text, re.DOTALL)
    return [str(json.loads(item).get("content", "")) for item in found]


def _mistral_results_answer_calls(results: str, assistant: str) -> bool:
    """Whether each result names, by ``call_id``, one call of the assistant turn before it."""
    _, marker, listed = assistant.rpartition("[TOOL_CALLS]")
    if not marker:
        return False
    try:
        calls = json.JSONDecoder().raw_decode(listed.strip())[0]
    except ValueError:
        return False
    ids = [call.get("id") for call in calls if isinstance(call, dict)]
    found = re.findall(r"\[TOOL_RESULTS\](.*?)\[/TOOL_RESULTS\]", results, re.DOTALL)
    named = [json.loads(item).get("call_id") for item in found]
    return bool(named) and len(named) == len(ids) and set(named) == set(ids)


FAMILIES: tuple[ScriptedFamily, ...] = (
    ScriptedFamily(
        "llama-json",
        re.compile(r"/llama-3\.[13]-"),
        _listed_definitions('"parameters": dictionary of argument name'),
        _llama_json,
        None,
    ),
    ScriptedFamily(
        "llama-pythonic",
        re.compile(r"/llama-3\.2-"),
        _listed_definitions("[func_name1(params_name1=params_value1"),
        _pythonic,
        None,
    ),
    ScriptedFamily(
        "llama-4",
        re.compile(r"/llama-4-"),
        _listed_definitions("[func_name1(params_name1=params_value1"),
        _llama4,
        None,
    ),
    ScriptedFamily(
        "gemma",
        re.compile(r"/gemma-3-"),
        _listed_definitions("[func_name1(params_name1=params_value1"),
        _pythonic,
        _tagged_results("```tool_output\n", "\n```"),
    ),
    ScriptedFamily(
        "gemma-4",
        re.compile(r"/gemma-4-"),
        _gemma4_tools,
        _gemma4,
        _gemma4_results,
    ),
    ScriptedFamily(
        "hermes",
        re.compile(r"/(?:qwen2\.5-|qwq-|qwen3-|hermes-2-pro-)"),
        _tagged_definitions("<tools>", "</tools>", "<tool_call>"),
        _hermes,
        _tagged_results("<tool_response>", "</tool_response>"),
    ),
    ScriptedFamily(
        "granite-4",
        re.compile(r"/granite-4\.0-"),
        _tagged_definitions("<tools>", "</tools>", "For each tool call, return a json object"),
        _hermes,
        _tagged_results("<tool_response>", "</tool_response>"),
    ),
    ScriptedFamily(
        "qwen3.5",
        re.compile(r"/qwen3\.8-"),
        _tagged_definitions("<tools>", "</tools>", "<function=example_function_name>"),
        _xml_calls(_one_line),
        _tagged_results("<tool_response>", "</tool_response>"),
    ),
    ScriptedFamily(
        "qwen3-coder",
        re.compile(r"/nemotron-3-"),
        _xml_tools,
        _xml_calls(_python_scalar),
        _tagged_results("<tool_response>", "</tool_response>"),
    ),
    ScriptedFamily(
        "glm",
        re.compile(r"/glm-(?:4\.7|5)"),
        _tagged_definitions(
            "<tools>", "</tools>", "<tool_call>{function-name}<arg_key>{arg-key-1}</arg_key>"
        ),
        _glm,
        _tagged_results("<tool_response>", "</tool_response>"),
    ),
    ScriptedFamily(
        "mistral",
        re.compile(r"/mistral-small-3\.1-"),
        _mistral_tools,
        _mistral,
        _mistral_results,
        _mistral_results_answer_calls,
    ),
    ScriptedFamily("harmony", re.compile(r"/gpt-oss-"), _harmony_tools, _harmony, None),
)


def family_for(model: str) -> ScriptedFamily | None:
    """The family the scripted model plays for ``model``, or ``None`` for the generic format."""
    return next((family for family in FAMILIES if family.models.search(model)), None)

"""How tools are offered to each model family, chosen by model id: one table, :data:`OFFERINGS`.

A family trained on a format of its own is offered the tools in it, is shown its earlier calls
written that way, and gets results back in its own markup; every other model gets the generic
format (``prompt``). Which family a model id belongs to, each family's prompt text and which
writers it uses are data here, not branches elsewhere. Whatever the offering, the reply is read
by the same parser, which reads every family's format.

The facts (and how far each was checked) are in ``docs/tool-formats.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from string import Template
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.messages import Conversation, Message
from langchain_cloudflare_playground.client.tools import native_writers as write
from langchain_cloudflare_playground.client.tools.prompt import (
    GENERIC_RESULTS_NOTE,
    GENERIC_SECTION,
    describe_tools,
    render_tool_calls,
    render_tool_results,
    when_to_call,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from langchain_cloudflare_playground.client.tools.spec import Tool, ToolCall, ToolResult

__all__ = ["GENERIC", "OFFERINGS", "Offering", "offering_for", "written_for"]


@dataclass(frozen=True, slots=True)
class Offering:
    """One family's way of being offered tools, shown its calls, and given results.

    ``section`` is the system prompt's tool section, a template of ``$tools`` (the tools as
    ``list_tools`` writes them) and ``$rules`` (``results_note``, then when to call). A family
    whose tools stand before the request instead (Mistral) has ``before_request``, a template of
    ``$tools``. A family whose calls are Python syntax (``python_names_only``) is offered the
    generic format instead when a tool or argument name is not a Python identifier.
    """

    name: str
    models: re.Pattern[str]
    section: Template
    list_tools: Callable[[Sequence[Tool]], str]
    write_calls: Callable[[str, Sequence[ToolCall]], str]
    write_results: Callable[[Sequence[ToolResult]], str]
    results_note: str
    before_request: Template | None = None
    python_names_only: bool = False  # calls are Python syntax: names must be identifiers

    def system_section(self, tools: Sequence[Tool], choice: str, *, listed: bool = True) -> str:
        """The section added to the system prompt for ``tools`` and the tool ``choice``.

        ``listed=False``: the tools stand before the request, and the section only says how to
        call them (a family with ``before_request``).
        """
        rules = f"{self.results_note}\n{when_to_call(choice)}"
        if not listed:
            return self.section.substitute(tools="", rules=rules)
        if self.before_request is not None:  # no user turn to put them in: they stand here
            return self.section.substitute(tools="", rules=f"{self.listing(tools)}\n{rules}")
        return self.section.substitute(tools=self.list_tools(tools), rules=rules)

    def listing(self, tools: Sequence[Tool]) -> str:
        """The tools as they stand before the request (Mistral's ``[AVAILABLE_TOOLS]``)."""
        listed = self.list_tools(tools)
        return (
            listed if self.before_request is None else self.before_request.substitute(tools=listed)
        )


_TOOL_RESPONSE_NOTE = (
    "Each result comes back inside <tool_response></tool_response> tags (starting with"
    ' "Error:" when the tool failed); then answer from it.'
)
# Qwen's, Hermes's and GLM's own words, from their chat templates (docs/tool-formats.md).
_SIGNATURES = (
    "# Tools\n\n"
    "You may call one or more functions to assist with the user query.\n\n"
    "You are provided with function signatures within <tools></tools> XML tags:\n"
    "<tools>\n$tools\n</tools>\n\n"
)
_HERMES_SECTION = Template(
    f"{_SIGNATURES}"
    "For each function call, return a json object with function name and arguments within"
    " <tool_call></tool_call> XML tags:\n"
    '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>\n'
    "$rules"
)


def _glm_section(example: str) -> Template:
    """GLM's own wording (docs/tool-formats.md), with the call format as the version writes it."""
    return Template(
        f"{_SIGNATURES}"
        "For each function call, output the function name and arguments within the"
        " following XML format:\n"
        f"{example}\n"
        "$rules"
    )


# Qwen3-Coder's wording, which Qwen 3.5+ and Nemotron 3 keep; they list the tools differently.
_XML_CALLS_SECTION = Template(
    "# Tools\n\n"
    "You have access to the following functions:\n\n"
    "<tools>\n$tools\n</tools>\n\n"
    "If you choose to call a function ONLY reply in the following format with NO suffix:\n\n"
    "<tool_call>\n<function=example_function_name>\n<parameter=example_parameter_1>\nvalue_1\n"
    "</parameter>\n<parameter=example_parameter_2>\nThis is the value for the second parameter\n"
    "that can span\nmultiple lines\n</parameter>\n</function>\n</tool_call>\n\n"
    "<IMPORTANT>\nReminder:\n"
    "- Function calls MUST follow the specified format: an inner <function=...></function> block"
    " must be nested within <tool_call></tool_call> XML tags\n"
    "- Required parameters MUST be specified\n"
    "- You may provide optional reasoning for your function call in natural language BEFORE the"
    " function call, but NOT after\n"
    "- If there is no function call available, answer the question like normal with your current"
    " knowledge and do not tell the user about function calls\n"
    "</IMPORTANT>\n"
    "$rules"
)

GENERIC = Offering(
    name="generic",
    models=re.compile(r"(?!)"),  # matches no id: chosen when no row of the table does
    section=GENERIC_SECTION,
    list_tools=describe_tools,
    write_calls=render_tool_calls,
    write_results=render_tool_results,
    results_note=GENERIC_RESULTS_NOTE,
)

OFFERINGS: tuple[Offering, ...] = (
    Offering(
        name="llama-json",
        models=re.compile(r"/llama-3\.[13]-"),
        section=Template(
            "# Tools\n\n"
            "You have access to the functions below, given as JSON function definitions:\n\n"
            "$tools\n\n"
            "To call a function, respond with only a JSON object in the format"
            ' {"name": function name, "parameters": dictionary of argument name and its'
            " value}, one object per line to call several. Do not use variables.\n"
            "$rules"
        ),
        list_tools=write.json_definition_lines,
        write_calls=write.llama_json_calls,
        # Llama's results go in an `ipython` turn, which the playground does not carry.
        write_results=render_tool_results,
        results_note=GENERIC_RESULTS_NOTE,
    ),
    Offering(
        name="pythonic",
        models=re.compile(r"/llama-(?:3\.2|4)-"),
        section=Template(
            "# Tools\n\n"
            "Here is a list of functions in JSON format that you can invoke:\n$tools\n\n"
            "If you decide to invoke any of the functions, you MUST put it in the format of"
            " [func_name1(params_name1=params_value1, params_name2=params_value2...),"
            " func_name2(params)], and you SHOULD NOT include any other text in the response.\n"
            "$rules"
        ),
        list_tools=write.json_definition_list,
        write_calls=write.pythonic_calls,
        write_results=render_tool_results,  # Llama's `ipython` turn again
        results_note=GENERIC_RESULTS_NOTE,
        python_names_only=True,
    ),
    Offering(
        name="gemma",
        models=re.compile(r"/gemma-3-"),
        section=Template(
            "# Tools\n\n"
            "You have access to functions. If you decide to invoke any of the function(s), you"
            " MUST put it in the format of [func_name1(params_name1=params_value1,"
            " params_name2=params_value2...), func_name2(params)]\n"
            "You SHOULD NOT include any other text in the response if you call a function.\n"
            "$tools\n\n"
            "$rules"
        ),
        list_tools=write.json_definition_list,
        write_calls=write.pythonic_calls,
        write_results=write.tool_output_results,
        results_note=(
            "Each result comes back in a ```tool_output block (starting with"
            ' "Error:" when the tool failed); then answer from it.'
        ),
        python_names_only=True,
    ),
    Offering(
        name="gemma-4",
        models=re.compile(r"/gemma-4-"),
        # Gemma 4's template only declares the tools (the format is trained); the one line on
        # how a call is written is ours.
        section=Template(
            "# Tools\n\n$tools\n\n"
            'To call a function, write <|tool_call>call:function_name{argument:<|"|>text<|"|>,'
            "number:42}<tool_call|>.\n"
            "$rules"
        ),
        list_tools=write.gemma_declarations,
        write_calls=write.gemma_calls,
        write_results=write.gemma_results,
        results_note=(
            "Each result comes back in <|tool_response>response:function_name{value:...}"
            '<tool_response|> (starting with "Error:" when the tool failed); then answer from it.'
        ),
    ),
    Offering(
        name="hermes",
        # Qwen3-Coder and Qwen 3.5+ write <function=...> tags: the rows below.
        models=re.compile(r"/(?:qwen2\.5-|qwq-|qwen3-(?!coder)|hermes-2-pro-)"),
        section=_HERMES_SECTION,
        list_tools=write.json_definition_lines,
        write_calls=write.hermes_calls,
        write_results=write.tool_response_results,
        results_note=_TOOL_RESPONSE_NOTE,
    ),
    Offering(
        name="granite-4",
        # Granite 4.0 and 4.1 write Hermes's tags, asked in IBM's words; 4.2 on, Qwen's XML.
        models=re.compile(r"/granite-4\.[01]-"),
        section=Template(
            "# Tools\n\n"
            "You are a helpful assistant with access to the following tools. You may call one or"
            " more tools to assist with the user query.\n\n"
            "You are provided with function signatures within <tools></tools> XML tags:\n"
            "<tools>\n$tools\n</tools>\n\n"
            "For each tool call, return a json object with function name and arguments within"
            " <tool_call></tool_call> XML tags:\n"
            '<tool_call>\n{"name": <function-name>, "arguments": <args-json-object>}\n</tool_call>.'
            " If a tool does not exist in the provided list of tools, notify the user that you do"
            " not have the ability to fulfill the request.\n"
            "$rules"
        ),
        list_tools=write.json_definition_lines,
        write_calls=write.hermes_calls,
        write_results=write.tool_response_results,
        results_note=_TOOL_RESPONSE_NOTE,
    ),
    Offering(
        name="qwen3.5",
        models=re.compile(r"/(?:qwen3\.[5-9]|granite-4\.[2-9])"),
        section=_XML_CALLS_SECTION,
        list_tools=write.json_definition_lines,
        write_calls=write.qwen_xml_calls,
        write_results=write.tool_response_results,
        results_note=_TOOL_RESPONSE_NOTE,
    ),
    Offering(
        name="qwen3-coder",
        models=re.compile(r"/(?:qwen3-coder-|nemotron-3-)"),
        section=_XML_CALLS_SECTION,
        list_tools=write.xml_function_listing,
        write_calls=write.qwen3_coder_calls,
        write_results=write.tool_response_results,
        results_note=_TOOL_RESPONSE_NOTE,
    ),
    Offering(
        name="glm",
        models=re.compile(r"/glm-(?:4\.[7-9]|[5-9])"),
        section=_glm_section(
            "<tool_call>{function-name}<arg_key>{arg-key-1}</arg_key><arg_value>"
            "{arg-value-1}</arg_value><arg_key>{arg-key-2}</arg_key><arg_value>{arg-value-2}"
            "</arg_value>...</tool_call>"
        ),
        list_tools=write.json_definition_lines,
        write_calls=write.glm_calls,
        write_results=write.glm_results,
        results_note=_TOOL_RESPONSE_NOTE,
    ),
    Offering(
        name="glm-4.5",
        models=re.compile(r"/glm-4\.[56]"),
        section=_glm_section(
            "<tool_call>{function-name}\n<arg_key>{arg-key-1}</arg_key>\n"
            "<arg_value>{arg-value-1}</arg_value>\n...\n</tool_call>"
        ),
        list_tools=write.json_definition_lines,
        write_calls=write.glm45_calls,
        write_results=write.tool_response_results,
        results_note=_TOOL_RESPONSE_NOTE,
    ),
    Offering(
        name="mistral",
        models=re.compile(r"/mistral-small-3\.1-"),
        section=Template(
            "# Tools\n\n"
            "The functions you can call are listed in [AVAILABLE_TOOLS]."
            ' To call them, reply with [TOOL_CALLS] and a JSON list: [TOOL_CALLS][{"name":'
            ' function name, "arguments": dictionary of argument name and its value}].\n'
            "$rules"
        ),
        list_tools=write.json_definition_list,
        write_calls=write.mistral_calls,
        write_results=write.mistral_results,
        results_note=(
            "Each result comes back in [TOOL_RESULTS] (its content starting with"
            ' "Error:" when the tool failed); then answer from it.'
        ),
        before_request=Template("[AVAILABLE_TOOLS]$tools[/AVAILABLE_TOOLS]"),
    ),
    Offering(
        name="harmony",
        models=re.compile(r"/gpt-oss-"),
        section=Template("# Tools\n\n## functions\n\n$tools\n\n$rules"),
        list_tools=write.typescript_namespace,
        write_calls=write.harmony_calls,
        # Harmony's results come from a `functions.NAME` author, which the playground does
        # not carry.
        write_results=render_tool_results,
        results_note=GENERIC_RESULTS_NOTE,
    ),
)


def offering_for(model: str) -> Offering:
    """The offering for a full model id: its family's, else the generic one."""
    return next((offering for offering in OFFERINGS if offering.models.search(model)), GENERIC)


def written_for(
    offering: Offering, conversation: Conversation, tools: Sequence[Tool], choice: str
) -> Conversation:
    """``conversation`` as plain text for ``offering``'s family.

    Earlier calls and results are written into their turns; ``tools`` (none when the choice is
    ``"none"``) go into the system prompt, or before the last request for a family that wants
    them there.
    """
    calls = [call for turn in conversation.turns for call in turn.tool_calls]
    if offering.python_names_only and not write.pythonic_names(tools, calls):
        offering = GENERIC
    turns = [_written(offering, turn) for turn in conversation.turns]
    system = conversation.system
    if tools and choice != "none":
        listed_before = offering.before_request is not None and _put_before_request(
            turns, conversation.turns, offering, tools
        )
        section = offering.system_section(tools, choice, listed=not listed_before)
        system = f"{system}\n\n{section}" if system else section
    return replace(conversation, system=system, turns=tuple(turns))


def _written(offering: Offering, turn: Message) -> Message:
    if turn.tool_results:
        return Message(turn.role, offering.write_results(turn.tool_results))
    if turn.tool_calls:
        return Message(turn.role, offering.write_calls(turn.content, turn.tool_calls))
    return turn


def _put_before_request(
    turns: list[Message], given: Sequence[Message], offering: Offering, tools: Sequence[Tool]
) -> bool:
    """Put the tool list at the start of the last request (else of the last user turn).

    Returns whether there was a user turn to put it in; with none, the system prompt lists them.
    """
    users = [i for i, turn in enumerate(given) if turn.role == "user"]
    requests = [i for i in users if not given[i].tool_results]
    if not users:
        return False
    index = (requests or users)[-1]
    turns[index] = replace(turns[index], content=f"{offering.listing(tools)}{turns[index].content}")
    return True

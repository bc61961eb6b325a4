"""Streaming prose while a tool call may be coming: nothing of a call shows, nothing is lost."""

from __future__ import annotations

import itertools

import pytest

from langchain_cloudflare_playground.client.tools.prose_splitter import ProseSplitter

CALL = '{"name": "add", "arguments": {"a": 1, "b": 2}}'
REPLIES = {
    "prose only": ("The answer is 42.\nThat is all.", "The answer is 42.\nThat is all."),
    "call only": (CALL, ""),
    "prose then call": (f"Let me add them.\n{CALL}", "Let me add them.\n"),
    "prose then fence": (f"Adding.\n```json\n{CALL}\n```", "Adding.\n"),
    "prose then tag": (f"Adding. <tool_call>{CALL}</tool_call>", "Adding. "),
    "list of calls": (f"[ {CALL}]", ""),
    "brackets in prose": ("See [1] and [the docs].", "See [1] and [the docs]."),
    "less-than in prose": ("3 < 4 and <b>bold</b>", "3 < 4 and <b>bold</b>"),
    "backticks in prose": ("Run `make test` now.", "Run `make test` now."),
    # Each family's native opening is held from its first character (docs/tool-formats.md).
    "Mistral list": (f"Sure.[TOOL_CALLS][{CALL}]", "Sure."),
    "Mistral name and ARGS": ('Sure. [TOOL_CALLS]add[ARGS]{"a": 1, "b": 2}', "Sure. "),
    "Granite": (f"On it.<|tool_call|>[{CALL}]", "On it."),
    "Llama python_tag": (f"<|python_tag|>{CALL}<|eom_id|>", ""),
    "Llama pythonic": ("Adding.\n[add(a=1, b=2)]", "Adding.\n"),
    "Llama 4 python_start": ("x <|python_start|>[add(a=1, b=2)]<|python_end|>", "x "),
    "Gemma tool_code": ("Here.\n```tool_code\nadd(a=1, b=2)\n```", "Here.\n"),
    "DeepSeek": (
        (
            "Ok. <\uff5ctool\u2581calls\u2581begin\uff5c><\uff5ctool\u2581call\u2581begin\uff5c>"
            'add<\uff5ctool\u2581sep\uff5c>{"a": 1, "b": 2}<\uff5ctool\u2581call\u2581end\uff5c>'
        ),
        "Ok. ",
    ),
    "Kimi": (
        (
            "I'll check.<|tool_calls_section_begin|><|tool_call_begin|>functions.add:0"
            '<|tool_call_argument_begin|>{"a": 1, "b": 2}<|tool_call_end|>'
        ),
        "I'll check.",
    ),
    "gpt-oss": (
        (
            "<|start|>assistant<|channel|>commentary to=functions.add <|constrain|>json"
            '<|message|>{"a": 1, "b": 2}<|call|>'
        ),
        "",
    ),
    "gpt-oss, header tokens stripped": ('Now to=functions.add <|message|>{"a": 1}', "Now "),
    "GLM": (
        "Adding.\n<tool_call>add<arg_key>a</arg_key><arg_value>1</arg_value></tool_call>",
        "Adding.\n",
    ),
    "Qwen3-Coder": ("A\n<tool_call>\n<function=add>\n</function>\n</tool_call>", "A\n"),
    "Phi-4 functools": (f"Calling functools[{CALL}]", "Calling "),
    "Gemma 4": ("Adding.<|tool_call>call:add{a:1,b:2}<tool_call|>", "Adding."),
    "Gemma 4, special tokens dropped": ("Adding. call:add{a:1,b:2}", "Adding. "),
    "a word that ends in call:": (
        "Recall: the call: stays prose.",
        "Recall: the call: stays prose.",
    ),
    # Prose that only starts like an opening is released.
    "a bracketed word": (
        "Mistral uses [TOOL] tags, [x] marks.",
        "Mistral uses [TOOL] tags, [x] marks.",
    ),
    "special-looking tokens": ("Use <|im_start|> and <| here.", "Use <|im_start|> and <| here."),
    "words that start openings": (
        "Import the functools module, then go to the function.",
        "Import the functools module, then go to the function.",
    ),
}


def _split(text: str, cuts: tuple[int, ...]) -> list[str]:
    bounds = [0, *cuts, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


@pytest.mark.parametrize("name", list(REPLIES))
def test_every_two_way_split_shows_the_same_prose(name: str) -> None:
    reply, prose = REPLIES[name]
    for cut in range(len(reply) + 1):
        splitter = ProseSplitter()
        shown = "".join(splitter.feed(piece) for piece in _split(reply, (cut,)))

        # Prose may wait for the next delta, but all of it shows by the end of the reply...
        assert prose.startswith(shown), (cut, shown)
        assert shown + splitter.held() == reply, cut
        # ...and nothing from the opening of a call on.
        assert (splitter.held() == reply[len(prose) :]) or not splitter.holding, cut


@pytest.mark.parametrize("name", list(REPLIES))
def test_character_by_character(name: str) -> None:
    reply, prose = REPLIES[name]
    splitter = ProseSplitter()

    shown = "".join(splitter.feed(char) for char in reply)

    if splitter.holding:
        assert shown == prose
    else:
        assert shown + splitter.held() == reply == prose


def test_prose_flows_before_the_reply_ends() -> None:
    splitter = ProseSplitter()

    assert splitter.feed("The weather ") == "The weather "
    assert splitter.feed("is fine.") == "is fine."


def test_everything_held_when_a_call_is_required() -> None:
    splitter = ProseSplitter(hold_everything=True)

    assert splitter.feed("Plain words.") == ""
    assert splitter.held() == "Plain words."


def test_a_long_run_of_whitespace_after_a_bracket_is_not_held():
    # Held without bound, such a run would be searched again on every delta: quadratic.
    splitter = ProseSplitter()
    shown = splitter.feed("see [")
    for _ in range(1000):
        shown += splitter.feed(" ")
    assert shown == "see [" + " " * 1000
    assert splitter.held() == ""

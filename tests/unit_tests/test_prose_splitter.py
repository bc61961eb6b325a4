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

"""Resuming a reply, the pure part: what the caller has seen, a replay skipped, a stored tail.

The frames are the SDK's shapes (``cf_agent_use_chat_response`` with ``replay``/``seq``,
``cf_agent_stream_resuming``, ``cf_agent_stream_resume_none``, a ``get-messages`` answer), as
``docs/wire-formats.md`` lists them from the SDK's source.
"""

from __future__ import annotations

import json

import pytest

from langchain_cloudflare_playground.client.events import Finish, ReasoningDelta, TextDelta
from langchain_cloudflare_playground.client.messages import normalize_messages
from langchain_cloudflare_playground.client.wire_formats.agents_frames import (
    CHAT_REQUEST_ID,
    RESUME_PROBE_ID,
    AgentChatDecoder,
    ReplyProgress,
    holds_message,
    last_sent_id,
    parse_resume_signal,
    resume_ack_frame,
    resume_probe_frame,
    resume_request_frame,
    stored_finish_reason,
    stored_messages_path,
    stored_reply,
)

MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"
# A reply as the SDK streams it: reasoning, then text, in two text parts (a repeated delta too).
CHUNKS = [
    {"type": "start"},
    {"type": "reasoning-start", "id": "r0"},
    *({"type": "reasoning-delta", "id": "r0", "delta": d} for d in ["Let ", "me ", "think."]),
    {"type": "reasoning-end", "id": "r0"},
    {"type": "text-start", "id": "t0"},
    *({"type": "text-delta", "id": "t0", "delta": d} for d in ["He", "llo ", "é🙂", "\n", "\n"]),
    {"type": "text-end", "id": "t0"},
    {"type": "text-start", "id": "t1"},
    *({"type": "text-delta", "id": "t1", "delta": d} for d in ["world", "!"]),
    {"type": "text-end", "id": "t1"},
    {"type": "finish", "messageMetadata": {"finishReason": "stop"}},
]
WHOLE_TEXT = "Hello é🙂\n\nworld!"
WHOLE_REASONING = "Let me think."


def frame(chunk: dict[str, object], *, seq: int | None = None, replay: bool = False) -> str:
    extra: dict[str, object] = {"replay": True} if replay else {}
    if seq is not None:
        extra["seq"] = seq
    return json.dumps(
        {
            "type": "cf_agent_use_chat_response",
            "id": CHAT_REQUEST_ID,
            "body": json.dumps(chunk),
            "done": False,
            **extra,
        }
    )


DONE = json.dumps(
    {"type": "cf_agent_use_chat_response", "id": CHAT_REQUEST_ID, "body": ""} | {"done": True}
)


def texts(events: list[object]) -> tuple[str, str]:
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    reasoning = "".join(e.text for e in events if isinstance(e, ReasoningDelta))
    return text, reasoning


@pytest.mark.parametrize("cut", range(len(CHUNKS) + 1))
@pytest.mark.parametrize("replays", [1, 2])
def test_a_replay_after_a_cut_anywhere_passes_on_each_character_once(cut, replays):
    decoder = AgentChatDecoder(MODEL)
    events = [e for chunk in CHUNKS[:cut] for e in decoder.feed(frame(chunk))]
    for _ in range(replays):  # a replay may itself break; the next starts over again
        decoder.progress.restart()
        for seq, chunk in enumerate(CHUNKS):
            events += decoder.feed(frame(chunk, seq=seq, replay=True))
    events += decoder.feed(DONE)
    assert texts(events) == (WHOLE_TEXT, WHOLE_REASONING)
    assert events[-1] == Finish("stop", None, MODEL)
    assert all(e.text for e in events if isinstance(e, (TextDelta, ReasoningDelta)))


def test_a_replay_cut_short_then_resumed_again_loses_nothing():
    decoder = AgentChatDecoder(MODEL)
    events = [e for chunk in CHUNKS[:9] for e in decoder.feed(frame(chunk))]
    decoder.progress.restart()
    events += [e for chunk in CHUNKS[:4] for e in decoder.feed(frame(chunk, replay=True))]
    decoder.progress.restart()
    events += [e for chunk in CHUNKS for e in decoder.feed(frame(chunk, replay=True))]
    assert texts(events) == (WHOLE_TEXT, WHOLE_REASONING)


def test_identical_text_in_another_part_is_not_taken_for_seen():
    # Matching is by part id and offset: the same words in a new part are new.
    progress = ReplyProgress()
    assert progress.take("text", "t0", "same ") == "same "
    progress.restart()
    assert progress.take("text", "t0", "same ") == ""
    assert progress.take("text", "t1", "same ") == "same "


def test_a_delta_half_seen_passes_on_its_unseen_half():
    progress = ReplyProgress()
    progress.take("text", "t0", "abc")
    progress.restart()
    assert progress.take("text", "t0", "ab") == ""
    assert progress.take("text", "t0", "cdef") == "def"


STORED = [
    {"id": "msg-0", "role": "user", "parts": [{"type": "text", "text": "Hi"}]},
    {
        "id": "assistant-1",
        "role": "assistant",
        "metadata": {"finishReason": "length"},
        "parts": [
            {"type": "step-start"},
            {"type": "reasoning", "text": WHOLE_REASONING, "state": "done"},
            {"type": "text", "text": "Hello é🙂\n\n", "state": "done"},
            {"type": "text", "text": "world!", "state": "done"},
        ],
    },
]


@pytest.mark.parametrize("cut", range(len(CHUNKS) + 1))
def test_the_stored_tail_completes_a_reply_cut_anywhere(cut):
    decoder = AgentChatDecoder(MODEL)
    events = [e for chunk in CHUNKS[:cut] for e in decoder.feed(frame(chunk))]
    message = stored_reply(STORED, "msg-0")
    assert message is not None
    events += decoder.progress.unseen_tail(message)
    assert texts(events) == (WHOLE_TEXT, WHOLE_REASONING)
    assert stored_finish_reason(message) == "length"


def test_a_room_that_does_not_hold_the_finished_reply_gives_none():
    assert stored_reply([], "msg-0") is None
    assert stored_reply(STORED[:1], "msg-0") is None  # no answer yet
    assert stored_reply(STORED, "msg-3") is None  # not our request
    assert stored_reply({"error": "x"}, "msg-0") is None
    streaming = [
        STORED[0],
        {**STORED[1], "parts": [{"type": "text", "text": "He", "state": "streaming"}]},
    ]
    assert stored_reply(streaming, "msg-0") is None  # still running: not finished


def test_the_answer_follows_the_message_we_sent_last():
    history = [
        {"id": "msg-0", "role": "user", "parts": [{"type": "text", "text": "Hi"}]},
        {"id": "msg-1", "role": "assistant", "parts": [{"type": "text", "text": "Old"}]},
        {"id": "msg-2", "role": "user", "parts": [{"type": "text", "text": "Again"}]},
        {"id": "x", "role": "assistant", "parts": [{"type": "text", "text": "New"}]},
    ]
    message = stored_reply(history, "msg-2")
    assert message is not None
    assert message["id"] == "x"
    conversation = normalize_messages(
        [
            {"role": "system", "content": "S"},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Old"},
            {"role": "user", "content": "Again"},
        ]
    )
    assert last_sent_id(conversation, system_in_messages=False) == "msg-2"
    assert last_sent_id(conversation, system_in_messages=True) == "msg-3"


def test_resume_signals():
    resuming = json.dumps({"type": "cf_agent_stream_resuming", "id": CHAT_REQUEST_ID})
    other = json.dumps({"type": "cf_agent_stream_resuming", "id": "someone-else"})
    none = json.dumps({"type": "cf_agent_stream_resume_none", "reason": "idle"})
    probe = json.dumps(
        {
            "type": "rpc",
            "id": RESUME_PROBE_ID,
            "success": False,
            "error": "Method resumeProbe does not exist",
        }
    )
    assert parse_resume_signal(resuming) == "resuming"
    assert parse_resume_signal(other) == "none"
    assert parse_resume_signal(none) == "none"
    assert parse_resume_signal(probe) == "no-resume"
    assert parse_resume_signal(json.dumps({"type": "cf_agent_state", "state": {}})) is None
    assert json.loads(resume_request_frame()) == {"type": "cf_agent_stream_resume_request"}
    assert json.loads(resume_ack_frame(CHAT_REQUEST_ID)) == {
        "type": "cf_agent_stream_resume_ack",
        "id": CHAT_REQUEST_ID,
    }
    assert json.loads(resume_probe_frame())["id"] == RESUME_PROBE_ID
    assert stored_messages_path("Room 1") == "/agents/playground/Room%201/get-messages"


def test_whether_the_room_holds_the_request_and_whether_anything_was_seen():
    assert holds_message(STORED, "msg-0")
    assert not holds_message(STORED, "msg-1")
    assert not holds_message({"msg-0": 1}, "msg-0")
    progress = ReplyProgress()
    assert progress.nothing_seen
    progress.take("reasoning", "r0", "x")
    assert not progress.nothing_seen

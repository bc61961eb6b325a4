from __future__ import annotations

import pytest

from langchain_cloudflare_playground.client.messages import Message, normalize_messages


def test_several_system_messages_are_joined_wherever_they_stand():
    conversation = normalize_messages(
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello"},
            Message("system", "Answer in French."),
            {"role": "user", "content": "Again"},
        ]
    )
    assert conversation.system == "Be brief.\n\nAnswer in French."
    assert [m.role for m in conversation.turns] == ["user", "assistant", "user"]


def test_a_string_is_one_user_message():
    conversation = normalize_messages("Hi")
    assert conversation.system is None
    assert conversation.turns == (Message("user", "Hi"),)


def test_text_parts_are_flattened():
    conversation = normalize_messages(
        [{"role": "user", "content": ["Hello ", {"type": "text", "text": "world"}]}]
    )
    assert conversation.turns[0].content == "Hello world"


def test_role_synonyms_of_other_libraries_are_accepted():
    conversation = normalize_messages(
        [{"role": "human", "content": "a"}, {"role": "ai", "content": "b"}]
    )
    assert [m.role for m in conversation.turns] == ["user", "assistant"]


def test_a_part_the_playground_cannot_carry_raises_naming_the_part():
    with pytest.raises(ValueError, match=r"messages\[0\]\.content\[1\] is a 'input_audio' part"):
        normalize_messages(
            [{"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "input_audio"}]}]
        )


def test_unknown_role_raises():
    with pytest.raises(ValueError, match="role 'function'"):
        normalize_messages([{"role": "function", "content": "x"}])


def test_a_tool_result_needs_its_call():
    with pytest.raises(ValueError, match="tool result for an unknown call ''"):
        normalize_messages([{"role": "tool", "content": "x"}])


def test_only_system_messages_raise():
    with pytest.raises(ValueError, match="at least one user message"):
        normalize_messages([{"role": "system", "content": "x"}])


def test_a_non_message_raises_type_error():
    with pytest.raises(TypeError, match="pass a dict"):
        normalize_messages([42])  # type: ignore[list-item]


def test_long_history_is_kept_in_order():
    history = [
        {"role": "user" if i % 2 == 0 else "assistant", "content": str(i)} for i in range(501)
    ]
    conversation = normalize_messages(history)
    assert [m.content for m in conversation.turns] == [str(i) for i in range(501)]

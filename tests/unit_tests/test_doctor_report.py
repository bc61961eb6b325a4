"""The doctor's records and report: which failure the advice is about, and no secret shown."""

from __future__ import annotations

import json

from langchain_cloudflare_playground.doctor import Check, Diagnosis, as_json, as_text


def diagnosis(*checks: Check, secrets: frozenset[str] = frozenset()) -> Diagnosis:
    return Diagnosis("https://playground.example", checks, secrets=secrets)


def test_a_refusal_a_later_check_got_past_needs_no_advice():
    found = diagnosis(
        Check("websocket via direct", "refused", "HTTP 403", advice="install impersonate"),
        Check("websocket via impersonate", "ok", "upgraded"),
        Check("chat", "failed", "HTTP 500", advice="upgrade"),
    )
    assert found.first_problem is not None
    assert found.first_problem.name == "chat"
    assert found.advice == "chat: upgrade"
    assert not found.chat_worked


def test_a_refusal_nothing_got_past_is_the_problem_even_before_the_cache():
    found = diagnosis(
        Check("tls", "refused", "alert", advice="install impersonate"),
        Check("chat", "refused", "every rung refused"),
        Check("session cache", "ok", "no cache file yet"),
    )
    assert found.advice == "tls: install impersonate"


def test_a_failure_is_never_passed_over():
    found = diagnosis(
        Check("model list", "failed", "unknown shape", advice="upgrade"),
        Check("chat", "ok", "done"),
    )
    assert found.chat_worked
    assert found.advice == "model list: upgrade"


def test_nothing_to_do_when_everything_works():
    found = diagnosis(Check("chat", "ok", "done"), Check("session cache", "ok", "none"))
    assert found.first_problem is None
    assert found.advice == "nothing to do: a chat works"


def test_a_problem_without_advice_of_its_own_gets_the_update_advice():
    found = diagnosis(Check("wire format", "failed", "neither"))
    # The package is not on PyPI: the update comes from its repository.
    assert found.advice == (
        "wire format: check the URL (--base-url); if it is the live site, it may have changed:"
        " update this package from its repository (git pull in your checkout, then pip install"
        " '.[all]'); if that does not help, file an issue with the output of"
        " `cf-playground doctor --json`"
    )


def test_secrets_are_scrubbed_from_text_and_json_wherever_they_appear():
    secret = "s3cr3t-value"
    found = diagnosis(
        Check(
            "page",
            "failed",
            f"proxy http://u:{secret}@proxy:3128 refused",
            facts={"nested": [{"header": f"a={secret}"}]},
            advice=f"not {secret}",
        ),
        secrets=frozenset({secret, "s3cr3t"}),  # one inside the other: the longer goes first
    )
    text, payload = as_text(found), as_json(found)
    assert secret not in text
    assert "s3cr3t" not in text
    assert secret not in payload
    assert "proxy http://u:***@proxy:3128 refused" in text
    decoded = json.loads(payload)
    assert decoded["checks"][0]["facts"] == {"nested": [{"header": "a=***"}]}
    assert decoded["checks"][0]["advice"] == "not ***"


def test_the_text_report_has_one_line_per_check_then_the_advice():
    found = diagnosis(
        Check("tcp connect", "ok", "127.0.0.1:80", seconds=0.0123),
        Check("tls", "skipped", "plain http"),
        Check("chat", "ok", "done", seconds=2.5),
    )
    lines = as_text(found).splitlines()
    assert lines[0].startswith("cf-playground doctor: https://playground.example")
    assert lines[1].split() == ["ok", "tcp", "connect", "12", "ms", "127.0.0.1:80"]
    assert lines[2].split() == ["skipped", "tls", "plain", "http"]
    assert lines[3].split() == ["ok", "chat", "2.50", "s", "done"]
    assert lines[4] == "advice: nothing to do: a chat works"


def test_a_value_of_a_few_characters_does_not_garble_the_report():
    found = diagnosis(
        Check("tcp connect", "ok", "127.0.0.1:8787", 0.012),
        Check("chat", "failed", "cookie flag=1 refused"),
        secrets=frozenset({"1", "long-enough-secret"}),
    )
    text = as_text(found)
    assert "127.0.0.1:8787" in text
    assert "12 ms" in text

"""The ``cf-playground`` command, run as a user runs it: a subprocess against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest

from langchain_cloudflare_playground.client.models import DEFAULT_MODEL
from tests.agents_worker import CHAT_MODEL_COUNT
from tests.helpers import CLI, echo_fields, our_profiles, run_cli
from tests.reference_server import Fault, free_port
from tests.scripted_model import echo_reply


def user_contents(server) -> list[str]:
    """The user messages of the last chat request the server received."""
    messages = server.inference_requests[-1].json["messages"]
    return [m["content"] for m in messages if m["role"] == "user"]


def test_chat_streams_the_reply_to_stdout(server):
    server.push(Fault(reply=["Hello", ", ", "world"], chunk_delay=0.05))
    result = run_cli("chat", "hi", "--base-url", server.url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Hello, world\n"
    assert result.stderr == ""


def test_chat_options_reach_the_server(server):
    result = run_cli(
        "chat",
        "hi there",
        "--base-url",
        server.url,
        "--model",
        "qwq-32b",
        "--system",
        "Be brief.",
        "--max-tokens",
        "99",
        "--hide-reasoning",
    )
    assert result.returncode == 0, result.stderr
    assert "Echo: hi there | model=@cf/qwen/qwq-32b | system=Be brief." in result.stdout
    assert "max_tokens=99" in result.stdout
    assert "Let me think" not in result.stdout + result.stderr


def test_reasoning_goes_to_stderr_and_the_reply_to_stdout(data_stream_server):
    result = run_cli("chat", "hi", "--base-url", data_stream_server.url, "-m", "qwq-32b")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Echo: hi")
    assert "[reasoning] Let me think." in result.stderr


def test_base_url_from_the_environment(server):
    result = run_cli("chat", "env", env={"CF_PLAYGROUND_URL": server.url})
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Echo: env")


def test_interactive_chat_keeps_history(server):
    # -i: a chat, one message per line, though standard input is not a terminal.
    result = run_cli(
        "chat", "-i", "--base-url", server.url, "-s", "Sys", stdin="first\nsecond\n/exit\n"
    )
    assert result.returncode == 0, result.stderr
    assert "Echo: first | " in result.stdout
    assert "Echo: second | " in result.stdout
    history = server.inference_requests[-1].json["messages"]
    contents = [m["content"] for m in history if m["role"] != "system"]
    assert contents[0] == "first"
    assert contents[1].startswith("Echo: first")
    assert contents[2] == "second"


def test_interactive_chat_from_a_file_writes_only_the_answers_to_stdout(server, tmp_path):
    # `cf-playground chat -i < questions.txt > answers.txt`: no banner, prompt or /command
    # output among the answers.
    questions = tmp_path / "questions.txt"
    questions.write_text("first\n/help\nsecond\n")
    with questions.open() as stdin:
        result = subprocess.run(
            [CLI, "chat", "-i", "--base-url", server.url],
            stdin=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert result.returncode == 0, result.stderr
    answers = [
        "".join(echo_reply(request.json, server.wire_format))
        for request in server.inference_requests
    ]
    assert len(answers) == 2
    assert result.stdout == f"{answers[0]}\n{answers[1]}\n"
    assert "/reset  forget the conversation" in result.stderr  # /help's answer, on stderr
    assert "you>" not in result.stdout + result.stderr  # nobody types: no prompt anywhere
    assert "Chatting with" not in result.stdout


def test_interactive_chat_ends_on_end_of_input_and_survives_an_error(server):
    server.push(Fault(status=400))
    result = run_cli("chat", "-i", "--base-url", server.url, stdin="fails\nworks\n")
    assert result.returncode == 0
    assert "error: HTTP 400" in result.stderr
    assert "Echo: works" in result.stdout
    # The failed turn was dropped from the history.
    assert [m["content"] for m in server.inference_requests[-1].json["messages"]] == ["works"]


def test_errors_are_one_line_and_a_non_zero_exit(server):
    server.push(Fault(status=404))
    result = run_cli("chat", "hi", "--base-url", server.url)
    assert result.returncode == 1
    assert result.stderr.strip() == 'error: HTTP 404: {"error": "reference server says 404"}'
    assert "Traceback" not in result.stderr


def test_unreachable_server_is_one_line(tmp_path):
    result = run_cli(
        "chat", "hi", "--base-url", f"http://127.0.0.1:{free_port()}", "--timeout", "2"
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot reach the playground")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_closed_port_says_where_and_why_and_suggests_the_doctor():
    url = f"http://127.0.0.1:{free_port()}"  # bound, its number taken, closed
    result = run_cli("chat", "hi", "--base-url", url, "--timeout", "2")
    assert result.returncode == 1
    assert result.stderr == (
        f"error: cannot reach the playground at {url}: connection refused;"
        f" `cf-playground doctor --base-url {url}` checks each layer down to the playground and"
        " says which one fails\n"
    )
    assert result.stdout == ""
    # The interactive chat says the same, and goes on.
    chat = run_cli("chat", "-i", "--base-url", url, "--timeout", "2", stdin="hi\n")
    assert chat.returncode == 0
    assert f"cannot reach the playground at {url}: connection refused;" in chat.stderr
    assert "`cf-playground doctor --base-url" in chat.stderr


def test_unknown_model_suggests_names(server):
    result = run_cli("chat", "hi", "--base-url", server.url, "-m", "llama-3.3-7b")
    assert result.returncode == 1
    assert "Did you mean" in result.stderr
    assert "llama-3.3-70b" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_broken_stream_keeps_what_arrived(server):
    server.push(Fault(reply=["part", "ial", "!"], cut_after=2))
    result = run_cli("chat", "hi", "--base-url", server.url)
    assert result.returncode == 1
    assert result.stdout.startswith("partial")
    assert "7 characters" in result.stderr


def test_models_table_and_json(server):
    table = run_cli("models", "--base-url", server.url)
    assert table.returncode == 0, table.stderr
    assert table.stderr == ""  # the live list: no note about the built-in table
    lines = table.stdout.splitlines()
    header = ["ALIAS", "MODEL", "ID", "CONTEXT", "VISION", "TOOLS", "REASONING", "PAID"]
    assert lines[0].split() == header
    rows = {line.split()[0]: line.split()[1:] for line in lines[1:]}
    assert rows["qwq-32b"] == ["@cf/qwen/qwq-32b", "24000", "-", "-", "yes", "-"]
    assert rows["sparrow-9b"] == ["@cf/acme/sparrow-9b-instruct-awq", "8192", "-", "yes", "-", "-"]
    as_json = run_cli("models", "--json", "--base-url", server.url)
    models = json.loads(as_json.stdout)
    sparrow = next(m for m in models if m["alias"] == "sparrow-9b")
    assert sparrow["properties"]["context_window"] == "8192"
    assert sparrow["context_window"] == 8192
    assert (sparrow["function_calling"], sparrow["vision"], sparrow["paid_only"]) == (
        True,
        False,
        False,
    )
    assert next(m for m in models if m["alias"] == "qwq-32b")["reasoning"] is True
    assert all(m["task"] == "Text Generation" for m in models)


# The vision rows of the playground's catalog of 2026-09-30, as the local Agents server lists it.
VISION_MODELS = {
    "@cf/meta/llama-3.2-11b-vision-instruct",
    "@cf/meta/llama-4-scout-17b-16e-instruct",
    "@cf/google/gemma-4-26b-a4b-it",
    "@cf/qwen/qwen3.8-27b",
    "@cf/zai-org/glm-5.3-flash",
}


def test_models_vision_lists_only_the_vision_models(agents_server):
    table = run_cli("models", "--vision", "--base-url", agents_server.url)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["ALIAS", "MODEL", "ID"]
    assert {line.split()[1] for line in lines[1:]} == VISION_MODELS
    assert all(line.split()[3] == "yes" for line in lines[1:])  # the VISION column

    everything = json.loads(run_cli("models", "--json", "--base-url", agents_server.url).stdout)
    assert {m["id"] for m in everything if m["vision"]} == VISION_MODELS
    assert len(everything) > len(VISION_MODELS)


def test_models_filters_combine(agents_server):
    result = run_cli(
        "models", "--json", "--vision", "--tools", "--free", "--base-url", agents_server.url
    )
    assert result.returncode == 0, result.stderr
    # llama-3.2-11b-vision is not flagged for tools; glm-5.3-flash is flagged Workers Paid.
    assert {m["id"] for m in json.loads(result.stdout)} == {
        "@cf/meta/llama-4-scout-17b-16e-instruct",
        "@cf/google/gemma-4-26b-a4b-it",
        "@cf/qwen/qwen3.8-27b",
    }
    reasoning = run_cli("models", "--json", "--reasoning", "--base-url", agents_server.url)
    ids = {m["id"] for m in json.loads(reasoning.stdout)}
    assert {"@cf/qwen/qwq-32b", "@cf/openai/gpt-oss-120b", "@cf/zai-org/glm-5.3"} <= ids
    assert DEFAULT_MODEL not in ids


def test_models_says_when_no_model_matches(server):
    result = run_cli("models", "--vision", "--tools", "--base-url", server.url)
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].split()[:3] == ["ALIAS", "MODEL", "ID"]
    assert len(result.stdout.splitlines()) == 1  # the header, no model
    assert result.stderr == "note: none of the 3 models listed matches --vision --tools\n"
    as_json = run_cli("models", "--json", "--vision", "--base-url", server.url)
    assert (as_json.returncode, json.loads(as_json.stdout)) == (1, [])


def test_session_show_and_clear_never_print_cookie_values(server, isolated_session_cache):
    server.push(Fault(set_cookies={"__cf_bm": "secret-cookie-value"}))
    run_cli("chat", "hi", "--base-url", server.url)
    shown = run_cli("session", "show")
    assert server.url in shown.stdout
    assert "__cf_bm" in shown.stdout
    assert "secret-cookie-value" not in shown.stdout
    assert run_cli("session", "path").stdout.strip() == str(isolated_session_cache / "session.json")
    assert run_cli("session", "clear").returncode == 0
    assert "no cached session" in run_cli("session", "show").stdout


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--max-tokens", "many"], "argument --max-tokens: invalid int value: 'many'"),
        (["--max-tokens", "-5"], "argument --max-tokens: must be a whole number of tokens above 0"),
        (["--max-tokens", "0"], "argument --max-tokens: must be a whole number of tokens above 0"),
        (["--timeout", "0"], "argument --timeout: must be a positive number of seconds, not '0'"),
        (["--timeout", "-1"], "argument --timeout: must be a positive number of seconds"),
        (["--timeout", "soon"], "argument --timeout: not a number: 'soon'"),
        (["--timeout", "nan"], "argument --timeout: not a finite number: 'nan'"),
        # Workers AI's range, the same the client and both adapters check.
        (["--temperature", "9"], "argument --temperature: must be from 0 to 5, not '9'"),
        (["--temperature", "5.5"], "argument --temperature: must be from 0 to 5, not '5.5'"),
        (["--temperature", "-0.1"], "argument --temperature: must be from 0 to 5, not '-0.1'"),
        (["--wire-format", "smoke"], "argument --wire-format: invalid choice: 'smoke'"),
        (["-i"], "--interactive takes no PROMPT"),
    ],
)
def test_usage_errors_exit_2_with_one_line(sse_server, arguments, message):
    result = run_cli("chat", "hi", "--base-url", sse_server.url, *arguments)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith(f"cf-playground chat: error: {message}")
    assert result.stderr.endswith("(see cf-playground chat --help)\n")
    assert result.stdout == ""
    assert sse_server.requests == []  # refused before anything was sent


def test_a_bad_base_url_is_a_usage_error():
    result = run_cli("models", "--base-url", "ftp://example.com")
    assert result.returncode == 2
    assert result.stderr.startswith(
        "cf-playground models: error: argument --base-url: must start with http:// or https://"
    )


def test_temperature_bounds_are_accepted_and_sent(data_stream_server):
    for value in ("0", "2", "5"):
        result = run_cli("chat", "hi", "--base-url", data_stream_server.url, "--temperature", value)
        assert result.returncode == 0, result.stderr
        assert data_stream_server.inference_requests[-1].json["temperature"] == float(value)


@pytest.mark.parametrize(
    ("prompt", "stdin", "message"),
    [
        ("", None, "the prompt is empty"),
        (" \n\t", None, "the prompt is empty"),
        (None, "", "the prompt read from standard input is empty"),
        (None, "\n \n", "the prompt read from standard input is empty"),
        ("-", "", "the prompt read from standard input is empty"),
    ],
)
def test_an_empty_prompt_is_refused(sse_server, prompt, stdin, message):
    arguments = ["chat", "--base-url", sse_server.url] + ([] if prompt is None else [prompt])
    result = run_cli(*arguments, stdin=stdin)
    assert result.returncode == 2
    assert (
        result.stderr == f"cf-playground chat: error: {message} (see cf-playground chat --help)\n"
    )
    assert sse_server.requests == []


def test_the_prompt_comes_from_a_pipe_without_an_argument(server):
    result = subprocess.run(
        ["bash", "-c", f"printf 'from the pipe' | '{CLI}' chat --base-url {server.url}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Echo: from the pipe | ")
    assert user_contents(server) == ["from the pipe"]


def test_dash_reads_the_prompt_from_stdin(server):
    result = run_cli("chat", "-", "--base-url", server.url, stdin="line one\nline two\n")
    assert result.returncode == 0, result.stderr
    assert user_contents(server) == ["line one\nline two\n"]


def test_a_one_megabyte_prompt_through_a_pipe(agents_server, tmp_path):
    # Too big for an argument (Linux takes at most 128 KiB in one), so it comes on stdin. Over
    # the Agents WebSocket: the HTTP body carries the prompt twice, over the reference server's
    # 1 MiB limit. No whitespace, so the scripted model echoes it back in one delta, not in
    # 100,000 words.
    prompt = "All-work-and-no-play-makes-a-prompt-too-long-for-the-command-line." * 15_200
    assert len(prompt) >= 1_000_000
    source = tmp_path / "prompt.txt"
    source.write_text(prompt)
    result = subprocess.run(
        ["bash", "-c", f"cat '{source}' | '{CLI}' chat --base-url {agents_server.url}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-500:]
    assert result.stdout.startswith("Echo from the mock model.")
    assert echo_fields(result.stdout)["last user"] == prompt


def test_chat_and_models_over_the_websocket(agents_server):
    chat = run_cli(
        "chat", "hi", "--base-url", agents_server.url, "--wire-format", "agents", "-s", "Sys"
    )
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.startswith("Echo from the mock model.")
    assert "system (state): Sys" in chat.stdout
    assert "last user: hi" in chat.stdout
    models = run_cli("models", "--json", "--base-url", agents_server.url)  # auto: the WebSocket
    assert models.returncode == 0, models.stderr
    assert len(json.loads(models.stdout)) == CHAT_MODEL_COUNT


def test_the_former_dialect_flag_still_works(agents_server):
    chat = run_cli("chat", "hi", "--base-url", agents_server.url, "--dialect", "websocket")
    assert chat.returncode == 0, chat.stderr
    assert chat.stdout.startswith("Echo from the mock model.")


def test_websocket_errors_are_one_line(agents_server):
    result = run_cli("chat", "[error:5007: No such model]", "--base-url", agents_server.url)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: 5007: No such model"


def test_broken_pipe_is_quiet(server):
    # `true` exits without reading, so the command's first write meets a closed pipe.
    result = subprocess.run(
        ["bash", "-c", f"'{CLI}' models --base-url {server.url} | true; echo ${{PIPESTATUS[0]}}"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.strip() == "0"
    assert result.stderr == ""


def test_models_says_when_it_prints_the_built_in_table(tmp_path):
    offline = f"http://127.0.0.1:{free_port()}"
    result = run_cli("models", "--base-url", offline, "--timeout", "2")
    assert result.returncode == 1
    assert "qwq-32b" in result.stdout  # the table is there, for a person to read
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the list above is the built-in table, not the playground's own")
    assert offline in last
    assert last.endswith("--allow-builtin accepts it")
    assert "Traceback" not in result.stderr


def test_the_built_in_table_filters_too_and_lists_no_gone_model(tmp_path):
    offline = f"http://127.0.0.1:{free_port()}"
    result = run_cli(
        "models", "--json", "--vision", "--allow-builtin", "--base-url", offline, "--timeout", "2"
    )
    assert result.returncode == 0, result.stderr
    assert {m["id"] for m in json.loads(result.stdout)} == VISION_MODELS
    everything = run_cli(
        "models", "--json", "--allow-builtin", "--base-url", offline, "--timeout", "2"
    )
    aliases = {m["alias"] for m in json.loads(everything.stdout)}
    assert {"llama-3.3-70b", "glm-5.3", "granite-4.0-h-micro"} <= aliases
    assert not aliases & {"kimi-k2.6", "gemma-3-12b", "phi-2"}  # gone from the catalog


def test_models_allow_builtin_exits_0_and_still_says_so(tmp_path):
    offline = f"http://127.0.0.1:{free_port()}"
    result = run_cli("models", "--json", "--allow-builtin", "--base-url", offline, "--timeout", "2")
    assert result.returncode == 0, result.stderr
    assert any(m["alias"] == "qwq-32b" for m in json.loads(result.stdout))
    assert result.stderr.startswith("note: the list above is the built-in table")
    assert len(result.stderr.strip().splitlines()) == 1


def test_headful_refresh_without_a_display_says_how_to_get_one(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    started = time.monotonic()
    result = subprocess.run(
        [CLI, "session", "refresh", "--headful"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=env,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(
        "error: --headful needs a display, and neither $DISPLAY nor $WAYLAND_DISPLAY is set"
    )
    assert "xvfb-run cf-playground session refresh --headful" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "exited at start-up" not in result.stderr  # checked before any browser started
    assert time.monotonic() - started < 10
    assert our_profiles() == []

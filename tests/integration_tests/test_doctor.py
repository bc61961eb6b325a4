"""``cf-playground doctor`` against every failure the test servers can stage.

Each test runs the command as a user does (a subprocess) against servers it starts or is given,
and checks the verdict of each layer and the one line of advice.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
from typing import TYPE_CHECKING

import pytest

from langchain_cloudflare_playground.client import SessionCache, SiteSession
from tests.helpers import CLI, chromium_processes, our_profiles, require_tool, run_cli
from tests.reference_server import Fault, ReferenceServer, free_port
from tests.tls_edge import TlsEdge

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.network_server

DEFAULT_MODEL = "@cf/meta/llama-3.3-70b-instruct-fp8-fast"


def doctor_json(*args: str, env: dict[str, str] | None = None) -> tuple[int, dict]:
    """Run ``doctor --json``; its exit code and its report."""
    done = run_cli("doctor", "--json", "--timeout", "10", *args, env=env)
    assert done.stderr == "", done.stderr  # everything is in the report
    return done.returncode, json.loads(done.stdout)


# The command as a user without the impersonate extra runs it.
WITHOUT_IMPERSONATION = (
    "import sys\n"
    "sys.modules['curl_cffi'] = None  # as if the impersonate extra were not installed\n"
    "from langchain_cloudflare_playground.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def doctor_without_impersonation(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``doctor *args`` as if curl_cffi were not installed."""
    return subprocess.run(
        [sys.executable, "-c", WITHOUT_IMPERSONATION, "doctor", "--timeout", "10", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def verdicts(report: dict) -> dict[str, tuple[str, str]]:
    """Each check's name to its verdict and why."""
    return {check["name"]: (check["verdict"], check["why"]) for check in report["checks"]}


def text_line(output: str, name: str) -> str:
    """The line of check ``name`` in the text report (verdict first, then the name)."""
    for line in output.splitlines():
        verdict, _, rest = line.partition(" ")
        if verdict in ("ok", "refused", "failed", "skipped") and rest.lstrip().startswith(name):
            return line
    raise AssertionError(f"no line for {name!r} in:\n{output}")


@pytest.fixture
def own_server() -> Iterator[ReferenceServer]:
    """A data-stream reference server of this test's own (its state may be changed)."""
    with ReferenceServer("data-stream") as server:
        yield server


# -- a working site ---------------------------------------------------------------------------


def test_an_http_only_server_works_and_each_layer_says_so(server):
    done = run_cli("doctor", "--base-url", server.url, "--timeout", "10")
    assert done.returncode == 0, done.stdout + done.stderr
    out = done.stdout
    assert text_line(out, "name resolves").startswith("ok")
    assert "127.0.0.1 -> 127.0.0.1" in text_line(out, "name resolves")
    assert text_line(out, "tcp connect").startswith("ok")
    assert text_line(out, "tls").startswith("skipped")
    assert text_line(out, "tls").endswith("plain http")
    # The reference server's page is an interstitial, as Cloudflare's is to a non-browser.
    assert text_line(out, "page").startswith("refused")
    assert "a challenge page (HTTP 403" in text_line(out, "page")
    # No Agents route: each rung's upgrade gets a 404; HTTP gets through.
    assert "no Agents WebSocket route here (HTTP 404)" in text_line(out, "websocket via direct")
    assert text_line(out, "http via direct").startswith("ok")
    assert text_line(out, "http via impersonate").startswith("ok")
    assert "not installed or not allowed" in text_line(out, "websocket via browser")
    wire = {"sse": "HTTP, server-sent events", "data-stream": "HTTP, AI SDK data stream"}
    assert text_line(out, "wire format").endswith(wire[server.wire_format])
    assert "3 chat models, the default model" in text_line(out, "model list")
    chat = text_line(out, "chat")
    assert chat.startswith("ok")
    assert "first token after" in chat
    assert "through the direct rung (http)" in chat
    assert text_line(out, "session cache").startswith("ok")
    assert out.splitlines()[-1] == "advice: nothing to do: a chat works"
    assert server.inference_requests, "the chat reached the server"


def test_the_local_playground_is_all_good_and_starts_no_browser(server, monkeypatch):
    # The browser is allowed and installed, as on a user's machine; nothing refuses the rungs
    # below it, so the ladder would never climb to it, and the doctor does not start it.
    require_tool("chromium")
    monkeypatch.delenv("CF_PLAYGROUND_BROWSER")
    code, report = doctor_json("--base-url", server.url)
    assert code == 0, report
    assert report["about"]["browser_installed"] is True
    checks = {check["name"]: check for check in report["checks"]}
    browser = checks["websocket via browser"]
    assert (browser["verdict"], browser["seconds"]) == ("skipped", None)
    assert browser["why"] == (
        "not tried: the impersonate rung got an answer, not the edge's refusal (see above);"
        " auto climbs to it only past a refusal"
    )
    assert checks["websocket via impersonate"]["facts"] == {"edge_refusal": False}
    assert checks["chat"]["verdict"] == "ok"
    assert report["advice"] == "nothing to do: a chat works"
    # Every verdict but the page's (the reference server's page is its stand-in for
    # Cloudflare's interstitial, and says so) and the 404s of its missing Agents route is ok.
    problems = {name for name, check in checks.items() if check["verdict"] in ("failed", "refused")}
    assert problems == {"page", "websocket via direct", "websocket via impersonate"}
    assert "pip install" not in json.dumps(report)


def test_json_report_holds_the_same_checks_with_times_and_facts(server):
    code, report = doctor_json("--base-url", server.url)
    assert code == 0
    assert report["base_url"] == server.url
    assert report["chat_worked"] is True
    names = [check["name"] for check in report["checks"]]
    assert names == [
        "name resolves", "tcp connect", "tls", "page",
        "websocket via direct", "http via direct",
        "websocket via impersonate", "http via impersonate",
        "websocket via browser", "http via browser",
        "wire format", "model list", "chat", "session cache",
    ]  # fmt: skip
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["chat"]["facts"]["rung"] == "direct"
    assert checks["chat"]["facts"]["wire_format"] == "http"
    assert checks["chat"]["facts"]["characters"] > 0
    assert checks["chat"]["seconds"] >= checks["chat"]["facts"]["first_token_seconds"] >= 0
    assert checks["model list"]["facts"] == {"chat_models": 3, "default_model": DEFAULT_MODEL}
    assert checks["wire format"]["facts"]["wire_format"] == server.wire_format
    assert checks["tls"]["seconds"] is None  # skipped: not timed
    assert report["about"]["transport"] == "auto"


# -- the connection ---------------------------------------------------------------------------


def test_nothing_listening_fails_tcp_and_skips_everything_above_it():
    url = f"http://127.0.0.1:{free_port()}"
    done = run_cli("doctor", "--base-url", url, "--timeout", "10")
    assert done.returncode == 1
    out = done.stdout
    assert text_line(out, "name resolves").startswith("ok")
    tcp = text_line(out, "tcp connect")
    assert tcp.startswith("failed")
    assert "nothing listening (connection refused)" in tcp
    for name in ("tls", "page", "wire format", "model list", "chat"):
        assert text_line(out, name).startswith("skipped"), name
    assert "no connection (see tcp connect)" in text_line(out, "chat")
    host_port = url.removeprefix("http://")
    assert out.splitlines()[-1] == (
        f"advice: tcp connect: nothing answers at {host_port}: check the URL (--base-url),"
        " the network, or --proxy"
    )


def test_a_name_that_does_not_resolve():
    code, report = doctor_json("--base-url", "http://no-such-host.invalid")
    assert code == 1
    seen = verdicts(report)
    assert seen["name resolves"][0] == "failed"
    assert "no-such-host.invalid does not resolve" in seen["name resolves"][1]
    assert seen["tcp connect"] == ("skipped", "the name does not resolve")
    assert report["advice"].startswith("name resolves: check the URL (--base-url")


def test_a_certificate_not_trusted(agents_server, tls_certificates):
    with TlsEdge(agents_server.port, tls_certificates, judging=False) as edge:
        code, report = doctor_json("--base-url", edge.url)  # no --ca-bundle: the test CA is unknown
    assert code == 1
    verdict, why = verdicts(report)["tls"]
    assert verdict == "failed"
    assert "the certificate is not trusted" in why
    assert report["advice"] == (
        "tls: if a proxy re-signs TLS, trust its CA: --ca-bundle PEM (or set SSL_CERT_FILE)"
    )


def test_a_ca_bundle_that_cannot_be_read_is_an_error_before_any_check(server, tmp_path):
    done = run_cli("doctor", "--base-url", server.url, "--ca-bundle", str(tmp_path / "none.pem"))
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("error: verify=")
    assert "cannot read the CA bundle" in done.stderr
    assert server.requests == []


# -- the edge: a TLS gate that lets only a browser's handshake through ------------------------


def test_a_tls_gate_that_refuses_the_handshake_is_passed_by_impersonation(
    agents_server, tls_certificates
):
    with TlsEdge(agents_server.port, tls_certificates, refusal="handshake") as edge:
        code, report = doctor_json("--base-url", edge.url, "--ca-bundle", tls_certificates.ca_path)
    assert code == 0, report
    seen = verdicts(report)
    assert seen["tls"][0] == "refused"
    assert "ended Python's TLS handshake" in seen["tls"][1]
    assert seen["websocket via direct"][0] == "refused"
    assert "refused the TLS handshake" in seen["websocket via direct"][1]
    assert seen["websocket via impersonate"] == (
        "ok",
        "upgraded; first frame cf_agent_identity",
    )
    assert seen["wire format"] == ("ok", "Agents WebSocket (first frame cf_agent_identity)")
    assert seen["model list"][0] == "ok"
    assert seen["chat"][0] == "ok"
    assert "through the impersonate rung (agents)" in seen["chat"][1]
    # The ladder climbed past the refusals: nothing to do.
    assert report["advice"] == "nothing to do: a chat works"


def test_a_gate_that_answers_with_a_challenge_page(agents_server, tls_certificates):
    with TlsEdge(agents_server.port, tls_certificates, refusal="http") as edge:
        code, report = doctor_json("--base-url", edge.url, "--ca-bundle", tls_certificates.ca_path)
    assert code == 0, report
    seen = verdicts(report)
    assert seen["tls"][0] == "ok"
    assert seen["tls"][1].startswith("TLSv1.")  # the gate completes TLS, then refuses
    assert seen["page"][0] == "refused"
    assert "a challenge page (HTTP 403, 'Just a moment...')" in seen["page"][1]
    assert seen["websocket via direct"][0] == "refused"
    assert "HTTP 403" in seen["websocket via direct"][1]
    assert seen["http via direct"][0] == "refused"
    assert seen["websocket via impersonate"][0] == "ok"
    assert seen["http via impersonate"][0] == "ok"  # the Agents server's 404: an answer
    assert "through the impersonate rung" in seen["chat"][1]


def test_a_pinned_transport_the_gate_refuses_advises_auto(agents_server, tls_certificates):
    with TlsEdge(agents_server.port, tls_certificates, refusal="handshake") as edge:
        code, report = doctor_json(
            "--base-url", edge.url, "--ca-bundle", tls_certificates.ca_path,
            "--transport", "direct",
        )  # fmt: skip
    assert code == 1
    seen = verdicts(report)
    assert seen["websocket via impersonate"] == ("skipped", "--transport direct")
    assert seen["chat"][0] == "refused"
    assert report["advice"] == (
        "tls: the edge refuses the direct transport: drop --transport direct"
        " (auto climbs to a rung that gets in)"
    )


def test_without_the_impersonate_extra_the_advice_is_to_install_it(agents_server, tls_certificates):
    with TlsEdge(agents_server.port, tls_certificates, refusal="handshake") as edge:
        done = doctor_without_impersonation(
            "--base-url", edge.url, "--ca-bundle", tls_certificates.ca_path
        )
        impersonated = [seen.verdict for seen in edge.seen if seen.verdict == "browser"]
    assert done.returncode == 1, done.stdout + done.stderr
    assert impersonated == []  # no rung but aiohttp was tried
    assert "not installed or not allowed" in text_line(done.stdout, "websocket via impersonate")
    assert text_line(done.stdout, "chat").startswith("refused")
    assert done.stdout.splitlines()[-1] == (
        "advice: tls: the edge refuses Python's TLS handshake:"
        ' pip install "cloudflare-playground[impersonate]"'
    )


def test_a_pinned_rung_that_is_not_installed_is_one_failure_with_its_advice(server):
    done = doctor_without_impersonation("--base-url", server.url, "--transport", "impersonate")
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stderr == ""  # a report, not a traceback
    assert text_line(done.stdout, "transport rungs").startswith("failed")
    assert text_line(done.stdout, "chat").startswith("skipped")
    assert done.stdout.splitlines()[-1] == (
        'advice: transport rungs: pip install "cloudflare-playground[impersonate]"'
    )


def test_a_site_that_accepts_and_never_answers_times_out_in_a_report():
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (the kernel's backlog), never reads
    try:
        port = silent.getsockname()[1]
        code, report = doctor_json("--base-url", f"http://127.0.0.1:{port}", "--timeout", "1")
    finally:
        silent.close()
    assert code == 1
    seen = verdicts(report)
    assert seen["tcp connect"][0] == "ok"
    assert seen["page"] == ("failed", "no page within 1 s")
    assert seen["chat"][0] in ("failed", "skipped")


def test_the_browser_rung_is_checked_when_the_edge_refuses_the_rung_below(
    agents_server, tls_certificates, monkeypatch
):
    # Without the impersonate extra the rung below the browser is aiohttp's, which the gate
    # refuses: the ladder climbs to the browser, and so does the doctor.
    require_tool("chromium")
    monkeypatch.delenv("CF_PLAYGROUND_BROWSER")  # the suite forbids the browser elsewhere
    before = chromium_processes()
    with TlsEdge(agents_server.port, tls_certificates, refusal="handshake") as edge:
        done = doctor_without_impersonation(
            "--json", "--base-url", edge.url, "--ca-bundle", tls_certificates.ca_path
        )
        verdicts_seen = {seen.verdict for seen in edge.seen}
    assert done.returncode == 0, done.stdout + done.stderr
    seen = verdicts(json.loads(done.stdout))
    assert seen["websocket via direct"][0] == "refused"
    assert seen["websocket via browser"] == ("ok", "upgraded; first frame cf_agent_identity")
    assert seen["http via browser"] == (
        "skipped",
        "the relay carries WebSockets only; its HTTP goes by the direct rung",
    )
    assert "through the browser rung" in seen["chat"][1]  # the first rung that works
    # aiohttp's handshake was refused, Chromium's let in; None: the TCP check's bare
    # connection, which sends no ClientHello.
    assert verdicts_seen == {"not-browser", "browser", None}
    deadline = time.monotonic() + 10
    while chromium_processes() - before and time.monotonic() < deadline:
        time.sleep(0.05)
    assert chromium_processes() - before == set()  # the relay's browser is gone
    assert our_profiles() == []


def test_the_browser_rung_is_not_tried_when_the_rung_below_gets_in(
    agents_server, tls_certificates, monkeypatch
):
    # The gate refuses aiohttp and lets curl_cffi in: the ladder stops at impersonate, so
    # the doctor starts no Chromium either (it did, for seconds, before).
    require_tool("chromium")
    monkeypatch.delenv("CF_PLAYGROUND_BROWSER")  # the browser is allowed and installed
    with TlsEdge(agents_server.port, tls_certificates, refusal="handshake") as edge:
        code, report = doctor_json(
            "--base-url", edge.url, "--ca-bundle", tls_certificates.ca_path
        )  # fmt: skip
    assert code == 0, report
    checks = {check["name"]: check for check in report["checks"]}
    assert checks["websocket via direct"]["verdict"] == "refused"
    assert checks["websocket via direct"]["facts"]["edge_refusal"] is True
    assert checks["websocket via impersonate"]["verdict"] == "ok"
    browser = checks["websocket via browser"]
    assert (browser["verdict"], browser["seconds"]) == ("skipped", None)
    assert browser["why"] == (
        "not tried: the impersonate rung got in (see above); auto climbs to it only past a refusal"
    )
    assert "through the impersonate rung" in checks["chat"]["why"]
    assert report["advice"] == "nothing to do: a chat works"


# -- the site's own answers -------------------------------------------------------------------


def test_an_api_behind_a_challenge_refuses_every_rung_and_advises_a_browser():
    with ReferenceServer("data-stream", gate=True) as gated:
        code, report = doctor_json("--base-url", gated.url)
    assert code == 1
    seen = verdicts(report)
    assert seen["page"][0] == "refused"
    assert seen["http via direct"] == ("refused", "HTTP 403: a challenge")
    assert seen["http via impersonate"] == ("refused", "HTTP 403: a challenge")
    assert seen["wire format"] == ("skipped", "no rung got an HTTP answer (see above)")
    assert seen["model list"][0] == "refused"
    assert seen["chat"][0] == "refused"
    assert "challenge page" in seen["chat"][1]
    # The browser rung is not allowed here (the suite forbids it): install it, says the advice.
    assert report["advice"].startswith(
        'page: the edge wants a browser: pip install "cloudflare-playground[browser]"'
    )


def test_the_agents_wire_format_asked_of_an_http_only_server(server):
    code, report = doctor_json("--base-url", server.url, "--wire-format", "agents")
    assert code == 1
    seen = verdicts(report)
    assert seen["websocket via direct"][0] == "refused"
    assert seen["wire format"] == (
        "failed",
        "--wire-format agents, but this site has no Agents WebSocket route",
    )
    assert seen["chat"][0] == "refused"
    assert report["advice"] == (
        "wire format: drop --wire-format agents (auto falls back to the HTTP wire formats),"
        " or check the URL (--base-url)"
    )


def test_the_http_wire_format_asked_skips_the_websocket_checks(server):
    code, report = doctor_json("--base-url", server.url, "--wire-format", "http")
    assert code == 0
    seen = verdicts(report)
    assert seen["websocket via direct"] == ("skipped", "--wire-format http")
    assert seen["wire format"][0] == "ok"
    assert seen["chat"][0] == "ok"


class _Answering(http.server.BaseHTTPRequestHandler):
    """A site that answers every request with one plain error page (``status``, no markers)."""

    status = 404

    def do_GET(self):
        self.send_error(self.status)

    def do_POST(self):
        self.send_error(self.status)

    def log_message(self, *_args):
        pass


class _Forbidden(_Answering):
    status = 403


@contextlib.contextmanager
def plain_site(handler: type[_Answering]) -> Iterator[str]:
    """A site on loopback that answers everything with ``handler``'s plain page; its URL."""
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=site.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{site.server_port}"
    finally:
        site.shutdown()
        site.server_close()


def test_a_site_that_answers_404_is_called_a_404_and_the_advice_is_the_url():
    # Not a playground (or the playground moved its routes): say 404, not "challenge", and
    # advise checking the URL; the package is not on PyPI, so no `pip install -U`.
    with plain_site(_Answering) as url:
        code, report = doctor_json("--base-url", url)
        text = run_cli("doctor", "--base-url", url, "--timeout", "10").stdout
    assert code == 1
    seen = verdicts(report)
    assert seen["page"] == ("failed", "HTTP 404 ('Error response')")
    assert seen["websocket via direct"] == (
        "refused",
        "no Agents WebSocket route here (HTTP 404)",
    )
    assert seen["http via direct"] == ("ok", "answered (HTTP 404)")
    assert seen["wire format"][0] == "failed"
    assert "neither the Agents WebSocket nor POST /api/inference" in seen["wire format"][1]
    assert seen["chat"][0] in ("failed", "refused")
    assert report["advice"] == (
        f"page: no page at {url}/ (HTTP 404): check the URL (--base-url; the live playground is"
        " https://playground.ai.cloudflare.com); if it is the live site, it may have changed:"
        " update this package from its repository (git pull in your checkout, then pip install"
        " '.[all]'); if that does not help, file an issue with the output of"
        " `cf-playground doctor --json`"
    )
    assert "challenge" not in text
    assert "pip install -U" not in text
    assert "HTTP 404" in text_line(text, "page")


def test_a_plain_403_is_refused_but_not_called_a_challenge():
    with plain_site(_Forbidden) as url:
        code, report = doctor_json("--base-url", url)
    assert code == 1
    seen = verdicts(report)
    assert seen["page"] == (
        "refused",
        "HTTP 403 ('Error response'): forbidden, not a challenge page",
    )
    assert seen["http via direct"] == ("refused", "HTTP 403: forbidden, not a challenge page")
    assert seen["websocket via direct"][0] == "refused"
    for name, (_verdict, why) in seen.items():  # nothing is called a challenge
        assert "challenge" not in why.replace("not a challenge page", ""), name


def test_a_model_list_in_an_unknown_shape(own_server):
    own_server.models_payload = {"unexpected": True}
    code, report = doctor_json("--base-url", own_server.url)
    assert code == 0  # the chat still works
    seen = verdicts(report)
    assert seen["model list"] == ("failed", "the model list is empty or in an unknown shape")
    assert seen["chat"][0] == "ok"
    assert report["advice"].startswith(
        "model list: this URL answers, but not as a playground this version knows: check the URL"
        " (--base-url; the live playground is https://playground.ai.cloudflare.com); if it is"
        " the live site, it may have changed: update this package from its repository"
    )


def test_a_model_list_without_the_default_model(own_server):
    own_server.models_payload = {
        "models": [
            {"name": "@cf/qwen/qwq-32b", "task": {"name": "Text Generation"}},
        ]
    }
    code, report = doctor_json("--base-url", own_server.url)
    seen = verdicts(report)
    assert seen["model list"] == (
        "failed",
        f"1 chat models, but not the default model {DEFAULT_MODEL}",
    )
    assert report["advice"].startswith(
        "model list: choose a model of `cf-playground models` (`cf-playground chat --model"
    )
    assert code == 0


def test_a_chat_error_fails_the_chat_and_the_exit_status(own_server):
    # The first reply answers the wire-format question; the chat's own gets the error.
    own_server.push(Fault(), Fault(status=500))
    done = run_cli("doctor", "--base-url", own_server.url, "--timeout", "10")
    assert done.returncode == 1
    chat = text_line(done.stdout, "chat")
    assert chat.startswith("failed")
    assert "HTTP 500" in chat
    assert text_line(done.stdout, "wire format").endswith("HTTP, AI SDK data stream")
    assert done.stdout.splitlines()[-1] == (
        "advice: chat: the playground failed on its side: try again in a while; if it keeps"
        " failing, file an issue with the output of `cf-playground doctor --json`"
    )
    assert own_server.pending_faults() == 0


def test_a_rate_limit_advises_waiting(own_server):
    own_server.push(Fault(), Fault(status=429, retry_after="30"))
    code, report = doctor_json("--base-url", own_server.url)
    assert code == 1
    assert verdicts(report)["chat"][0] == "failed"
    assert report["advice"] == (
        "chat: the site rate-limits this address: wait a while (30 s, the site says),"
        " then try again"
    )


# -- the session cache ------------------------------------------------------------------------


def plant_session(url: str, cookies: dict[str, str], expires_at: float) -> None:
    SessionCache().save(
        url,
        SiteSession(
            user_agent="Mozilla/5.0 test",
            cookies=cookies,
            cookie_expiries=dict.fromkeys(cookies, expires_at),
            source="browser",
        ),
    )


def test_a_stale_session_in_the_cache(server, isolated_session_cache):
    plant_session(server.url, {"cf_clearance": "old-value"}, time.time() - 3600)
    code, report = doctor_json("--base-url", server.url)
    assert code == 0  # the client fetches a fresh session; the chat works
    check = next(c for c in report["checks"] if c["name"] == "session cache")
    assert check["verdict"] == "failed"
    assert "the browser session (cf_clearance) is stale: it expired" in check["why"]
    assert check["facts"]["path"] == str(isolated_session_cache / "session.json")
    assert check["facts"]["mode"] == "0600"
    assert check["facts"]["private"] is True
    assert check["facts"]["session"]["expired"] is True
    assert report["advice"] == (
        "session cache: get a fresh session: `cf-playground session refresh` (or `session clear`)"
    )


def test_an_unreadable_cache(server, isolated_session_cache):
    isolated_session_cache.mkdir(parents=True, exist_ok=True)
    (isolated_session_cache / "session.json").write_bytes(b"\x00{not json")
    os.chmod(isolated_session_cache / "session.json", 0o600)
    done = run_cli("doctor", "--base-url", server.url, "--timeout", "10")
    assert done.returncode == 0  # the client ignores the file; the chat works
    line = text_line(done.stdout, "session cache")
    assert line.startswith("failed")
    assert "is unreadable (not JSON)" in line
    assert done.stdout.splitlines()[-1] == (
        "advice: session cache: remove it: `cf-playground session clear` (a fresh session is"
        " fetched on the next run)"
    )


def test_no_secret_appears_in_the_text_or_the_json(server):
    cookie_value = "c00kie-SECRET-4f9a2e"
    password = "pr0xy-PASSWORD-77b1"
    plant_session(server.url, {"cf_clearance": cookie_value}, time.time() + 3600)
    dead_proxy = f"http://someone:{password}@127.0.0.1:{free_port()}"
    outputs = []
    for extra in ([], ["--json"], ["--proxy", dead_proxy], ["--proxy", dead_proxy, "--json"]):
        done = subprocess.run(
            [CLI, "doctor", "--base-url", server.url, "--timeout", "10", *extra],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip
        outputs.append(done.stdout + done.stderr)
    # The cookie was in play: sent to the server, its name in the report.
    assert any(r.cookies.get("cf_clearance") == cookie_value for r in server.requests)
    assert all("cf_clearance" in output for output in outputs)
    assert all("someone" not in output for output in outputs[2:])
    for output in outputs:
        assert cookie_value not in output
        assert password not in output
    assert "***@127.0.0.1" in outputs[3]  # the proxy, named without its password

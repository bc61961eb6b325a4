from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import stat
import threading
import time
from http.cookies import SimpleCookie

import pytest

from langchain_cloudflare_playground.client.sessions import (
    SessionCache,
    SessionStore,
    SiteSession,
    default_cache_path,
    default_site_session,
)
from langchain_cloudflare_playground.client.wire_formats.agents_frames import SettingsWay

BASE = "https://playground.example"
SECRET = "cf-clearance-SECRET-VALUE"


def browser_args(**overrides) -> SiteSession:
    values = {
        "user_agent": "Mozilla/5.0 Chrome/156",
        "headers": {"Accept-Language": "en"},
        "cookies": {"cf_clearance": SECRET},
        "source": "browser",
    }
    values.update(overrides)
    return SiteSession(**values)


def test_repr_and_str_never_show_cookie_values():
    args = browser_args()
    for text in (repr(args), str(args), f"{args}", repr([args])):
        assert SECRET not in text
        assert "cf_clearance" in text  # the name helps debugging; the value is the secret


def test_default_args_look_like_a_browser_of_the_base_url():
    args = default_site_session(BASE + "/")
    headers = args.request_headers()
    assert "Chrome/" in headers["User-Agent"]
    assert "Headless" not in headers["User-Agent"]
    assert headers["Origin"] == BASE
    assert headers["Referer"] == BASE + "/"
    assert '"Google Chrome";v="156"' in headers["sec-ch-ua"]
    assert "Cookie" not in headers


def test_request_headers_carry_cookies():
    assert browser_args().request_headers()["Cookie"] == f"cf_clearance={SECRET}"


def test_one_cookie_running_out_keeps_the_others():
    args = browser_args(
        cookies={"cf_clearance": SECRET, "__cf_bm": "bm"},
        cookie_expiries={"cf_clearance": 100.0, "__cf_bm": 10.0},
    )
    jar = SimpleCookie()
    jar["__cf_bm"] = "bm2"
    jar["__cf_bm"]["max-age"] = "10"
    refreshed = args.with_set_cookies(jar, now=5.0)
    assert refreshed.cookie_expiries["__cf_bm"] == 15.0  # a refresh pushes the expiry later
    assert refreshed.expires_at == 100.0
    later = refreshed.without_expired_cookies(now=50.0)
    assert dict(later.cookies) == {"cf_clearance": SECRET}
    assert not later.is_expired(now=50.0)
    assert later.is_expired(now=100.0)


def test_a_session_cookie_never_expires_the_session():
    args = browser_args(cookies={"a": "1", "b": "2"}, cookie_expiries={"a": 10.0})
    assert args.expires_at is None
    assert not args.is_expired(now=1e12)
    assert dict(args.without_expired_cookies(now=1e12).cookies) == {"b": "2"}


def test_set_cookies_are_folded_in_and_deleted():
    jar = SimpleCookie()
    jar["__cf_bm"] = "bm"
    jar["__cf_bm"]["max-age"] = "1800"
    jar["cf_clearance"] = ""
    jar["cf_clearance"]["max-age"] = "0"
    updated = browser_args().with_set_cookies(jar, now=1000.0)
    assert dict(updated.cookies) == {"__cf_bm": "bm"}
    assert updated.expires_at == 2800.0


def test_cache_round_trip_is_private_and_atomic(isolated_session_cache):
    cache = SessionCache()
    assert cache.path == isolated_session_cache / "session.json"
    assert cache.save(BASE, browser_args())
    assert stat.S_IMODE(os.stat(cache.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(cache.path.parent).st_mode) == 0o700
    loaded = cache.load(BASE)
    assert loaded is not None
    assert loaded.cookies == {"cf_clearance": SECRET}
    assert loaded.source == "browser"
    lock = cache.path.with_name("session.json.lock")
    assert stat.S_IMODE(os.stat(lock).st_mode) == 0o600
    # No temp file left behind: only the cache and its lock file.
    assert sorted(p.name for p in cache.path.parent.iterdir()) == [
        "session.json",
        "session.json.lock",
    ]


def test_expired_sessions_are_not_loaded(tmp_path):
    cache = SessionCache(tmp_path / "s.json")
    cache.save(BASE, browser_args(cookie_expiries={"cf_clearance": 1.0}))
    assert cache.load(BASE) is None
    assert BASE in cache.entries()


def test_cache_keeps_other_base_urls(tmp_path):
    cache = SessionCache(tmp_path / "s.json")
    cache.save(BASE, browser_args())
    cache.save("http://other", browser_args(cookies={"a": "b"}))
    assert cache.clear(BASE)
    assert cache.load(BASE) is None
    assert cache.load("http://other") is not None


@pytest.mark.parametrize(
    "content",
    [
        b"{not json",
        b"\xff\xfe garbage",
        b"[]",
        b'{"sessions": []}',
        json.dumps({"sessions": {BASE: {"user_agent": 5, "headers": {}, "cookies": {}}}}).encode(),
        json.dumps(
            {"sessions": {BASE: {"user_agent": "x", "headers": {}, "cookies": {"a": 1}}}}
        ).encode(),
        json.dumps({"sessions": {BASE: "nope"}}).encode(),
    ],
    ids=["corrupt", "binary", "list", "wrong-sessions", "wrong-ua", "wrong-cookie", "wrong-entry"],
)
def test_a_bad_cache_file_is_replaced_not_a_crash(tmp_path, caplog, content):
    path = tmp_path / "s.json"
    path.write_bytes(content)
    cache = SessionCache(path)
    with caplog.at_level(logging.WARNING):
        assert cache.load(BASE) is None
    assert caplog.records  # the user is told
    assert cache.save(BASE, browser_args())
    assert cache.load(BASE) is not None


def test_missing_folder_is_created(tmp_path):
    cache = SessionCache(tmp_path / "a" / "b" / "s.json")
    assert cache.load(BASE) is None
    assert cache.save(BASE, browser_args())
    assert cache.load(BASE) is not None


def test_read_only_file_is_replaced(tmp_path):
    path = tmp_path / "s.json"
    path.write_text("{}")
    path.chmod(0o400)
    cache = SessionCache(path)
    assert cache.save(BASE, browser_args())
    assert cache.load(BASE) is not None


def test_a_directory_where_the_file_should_be_is_reported_and_survived(tmp_path, caplog):
    path = tmp_path / "s.json"
    path.mkdir()
    (path / "keep.txt").write_text("user data")
    cache = SessionCache(path)
    with caplog.at_level(logging.WARNING):
        assert cache.load(BASE) is None
        assert cache.save(BASE, browser_args()) is False
    assert "Could not write the session cache" in caplog.text
    assert (path / "keep.txt").read_text() == "user data"  # nothing the user had is lost
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.json.lock"]  # no temp file


def test_cookies_never_reach_the_logs(tmp_path, caplog):
    path = tmp_path / "s.json"
    path.mkdir()
    with caplog.at_level(logging.DEBUG):
        SessionCache(path).save(BASE, browser_args())
        SessionCache(tmp_path / "ok.json").save(BASE, browser_args())
    assert SECRET not in caplog.text


def _stale_file(path, now: float) -> None:
    """A cache file as runs long gone left it: expired sessions and rungs beside live ones."""

    def session(**expiries: float) -> dict:
        cookies = {"cf_clearance": SECRET}
        return {"user_agent": "UA", "headers": {}, "cookies": cookies, "cookie_expiries": expiries}

    path.write_text(
        json.dumps(
            {
                "version": 1,
                "sessions": {
                    "http://127.0.0.1:40001": session(cf_clearance=now - 1),
                    "http://127.0.0.1:40002": session(cf_clearance=now + 3600),
                    "http://session-cookie": session(),  # lasts until the site says otherwise
                },
                "transports": {
                    "http://127.0.0.1:40003": {"rung": "direct", "until": now - 1},
                    "http://127.0.0.1:40004": {"rung": "browser", "until": now + 3600},
                    "http://unreadable": {"rung": "teleport", "until": 0},
                },
                "settings_ways": {
                    "http://127.0.0.1:40005": {"model": ["state"], "until": now - 1},
                    "http://127.0.0.1:40006": {"model": ["setConfig"], "until": now + 3600},
                    "http://unreadable": {"model": ["telepathy"], "until": 0},
                },
            }
        )
    )
    path.chmod(0o600)


_LIVE = {
    ("sessions", "http://127.0.0.1:40002"),
    ("sessions", "http://session-cookie"),
    ("transports", "http://127.0.0.1:40004"),
    ("transports", "http://unreadable"),  # not known to have expired
    ("settings_ways", "http://127.0.0.1:40006"),
    ("settings_ways", "http://unreadable"),
}
_PARTS = ("sessions", "transports", "settings_ways")


@pytest.mark.parametrize(
    ("write", "change"),
    [
        (lambda cache: cache.save(BASE, browser_args()), {("sessions", BASE)}),
        (lambda cache: cache.save_transport(BASE, "direct"), {("transports", BASE)}),
        (
            lambda cache: cache.save_settings_way(BASE, SettingsWay(("setConfig",), "history")),
            {("settings_ways", BASE)},
        ),
        (
            lambda cache: cache.forget_settings_way("http://127.0.0.1:40006"),
            {("settings_ways", "http://127.0.0.1:40006")},
        ),
        (
            lambda cache: cache.clear("http://session-cookie"),
            {("sessions", "http://session-cookie")},
        ),
    ],
    ids=["save", "save_transport", "save_settings_way", "forget_settings_way", "clear"],
)
def test_every_write_prunes_what_has_expired(tmp_path, write, change):
    path = tmp_path / "s.json"
    _stale_file(path, time.time())
    assert write(SessionCache(path))
    written = json.loads(path.read_text())
    assert {(part, url) for part in _PARTS for url in written[part]} == (
        _LIVE ^ change  # added by a save, removed by the clear
    )
    assert written["sessions"]["http://127.0.0.1:40002"]["cookies"] == {"cf_clearance": SECRET}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.json.lock"]


def test_the_entry_written_is_kept_though_expired(tmp_path):
    # What a caller stores is stored; the next write prunes it.
    path = tmp_path / "s.json"
    cache = SessionCache(path)
    assert cache.save_transport(BASE, "impersonate", seconds=-1)
    assert cache.save(BASE, browser_args(cookie_expiries={"cf_clearance": 1.0}))
    assert set(json.loads(path.read_text())["transports"]) == set()
    assert set(cache.entries()) == {BASE}
    assert cache.save("http://other", browser_args())
    assert set(cache.entries()) == {"http://other"}


def test_reading_prunes_nothing(tmp_path):
    path = tmp_path / "s.json"
    _stale_file(path, time.time())
    before = path.read_bytes()
    cache = SessionCache(path)
    assert cache.load("http://127.0.0.1:40001") is None
    assert cache.load_transport("http://127.0.0.1:40003") is None
    assert cache.load_settings_way("http://127.0.0.1:40005") is None
    assert cache.load_settings_way("http://unreadable") is None
    assert cache.load_settings_way("http://127.0.0.1:40006") == SettingsWay(("setConfig",))
    assert set(cache.settings_ways()) == {"http://127.0.0.1:40005", "http://127.0.0.1:40006"}
    assert "http://127.0.0.1:40001" in cache.entries()  # the doctor shows what expired
    assert path.read_bytes() == before


def _writer(path: str, index: int) -> None:
    cache = SessionCache(path)
    for _ in range(20):
        assert cache.save(BASE, browser_args(cookies={"n": str(index)}))


def test_processes_writing_at_once_leave_a_valid_file(tmp_path):
    path = tmp_path / "s.json"
    context = multiprocessing.get_context("fork")
    workers = [context.Process(target=_writer, args=(str(path), i)) for i in range(10)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    loaded = SessionCache(path).load(BASE)
    assert loaded is not None
    assert loaded.cookies["n"] in {str(i) for i in range(10)}  # last writer wins, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.json", "s.json.lock"]


def _writer_of_its_own_url(path: str, index: int) -> None:
    cache = SessionCache(path)
    for _ in range(20):
        assert cache.save(f"http://host-{index}", browser_args(cookies={"n": str(index)}))


def test_processes_updating_different_urls_lose_nothing(tmp_path):
    path = tmp_path / "s.json"
    context = multiprocessing.get_context("fork")
    workers = [
        context.Process(target=_writer_of_its_own_url, args=(str(path), i)) for i in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
        assert worker.exitcode == 0
    entries = SessionCache(path).entries()
    assert sorted(entries) == sorted(f"http://host-{i}" for i in range(8))


def test_default_cache_path_uses_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CF_PLAYGROUND_CACHE_DIR", str(tmp_path))
    assert default_cache_path() == tmp_path / "session.json"
    monkeypatch.delenv("CF_PLAYGROUND_CACHE_DIR")
    assert default_cache_path().name == "session.json"
    assert "cloudflare-playground" in str(default_cache_path())


class _CountingSource:
    def __init__(self, args: SiteSession) -> None:
        self.args = args
        self.calls = 0

    async def acquire(self, base_url: str) -> SiteSession:
        self.calls += 1
        return self.args


async def test_store_uses_the_cache_before_the_source(tmp_path):
    cache = SessionCache(tmp_path / "s.json")
    source = _CountingSource(browser_args())
    first = SessionStore(BASE, source=source, cache=cache)
    assert (await first.get()).cookies == {"cf_clearance": SECRET}
    second = SessionStore(BASE, source=source, cache=cache)  # a new process, say
    assert (await second.get()).cookies == {"cf_clearance": SECRET}
    assert source.calls == 1


async def test_store_invalidate_drops_memory_and_cache(tmp_path):
    cache = SessionCache(tmp_path / "s.json")
    source = _CountingSource(browser_args())
    store = SessionStore(BASE, source=source, cache=cache)
    await store.get()
    store.invalidate()
    assert cache.load(BASE) is None
    await store.get()
    assert source.calls == 2


async def test_caller_overrides_are_sent_but_never_cached(tmp_path):
    cache = SessionCache(tmp_path / "s.json")
    store = SessionStore(
        BASE,
        cache=cache,
        user_agent="Mine/1",
        headers={"Authorization": "Bearer TOKEN"},
        cookies={"mine": "x"},
    )
    await store.get()
    jar = SimpleCookie()
    jar["__cf_bm"] = "bm"
    store.update_cookies(jar)
    saved = cache.load(BASE)
    assert saved is not None
    assert dict(saved.cookies) == {"__cf_bm": "bm"}
    assert "Authorization" not in saved.headers
    assert saved.user_agent != "Mine/1"
    other = SessionStore(BASE, cache=cache)  # another program of the same user
    headers = (await other.get()).request_headers()
    assert headers["Cookie"] == "__cf_bm=bm"
    assert "Authorization" not in headers
    mine = (await store.get()).request_headers()
    assert mine["Cookie"] == "__cf_bm=bm; mine=x"
    assert mine["Authorization"] == "Bearer TOKEN"


async def test_caller_overrides_win(tmp_path):
    store = SessionStore(
        BASE,
        cache=SessionCache(tmp_path / "s.json"),
        user_agent="MyAgent/1",
        headers={"X-Team": "a"},
        cookies={"mine": "1"},
    )
    headers = (await store.get()).request_headers()
    assert headers["User-Agent"] == "MyAgent/1"
    assert headers["X-Team"] == "a"
    assert headers["Cookie"] == "mine=1"


class _SlowSource:
    def __init__(self) -> None:
        self.calls = 0

    async def acquire(self, base_url: str) -> SiteSession:
        self.calls += 1
        await asyncio.sleep(0.2)  # a browser takes a while
        return browser_args(cookies={"n": str(self.calls)})


async def test_fifty_cold_calls_share_one_acquisition(tmp_path):
    source = _SlowSource()
    store = SessionStore(BASE, source=source, cache=SessionCache(tmp_path / "s.json"))
    results = await asyncio.gather(*(store.get() for _ in range(50)))
    assert source.calls == 1
    assert {r.cookies["n"] for r in results} == {"1"}
    assert store.acquisitions == 1


def test_calls_on_two_event_loops_share_one_acquisition(tmp_path):
    # The sync twins run on their own loop in another thread; they share the acquisition too.
    source = _SlowSource()
    store = SessionStore(BASE, source=source, cache=None)
    results: list[SiteSession] = []

    def other_loop() -> None:
        results.append(asyncio.run(store.get()))

    worker = threading.Thread(target=other_loop)
    worker.start()
    results.append(asyncio.run(store.get()))
    worker.join(10)
    assert source.calls == 1
    assert [r.cookies["n"] for r in results] == ["1", "1"]


class _FailingSource:
    def __init__(self) -> None:
        self.calls = 0

    async def acquire(self, base_url: str) -> SiteSession:
        self.calls += 1
        await asyncio.sleep(0.05)
        raise RuntimeError("no browser today")


async def test_a_failed_acquisition_reaches_every_waiter_and_is_not_cached(tmp_path):
    source = _FailingSource()
    store = SessionStore(BASE, source=source, cache=SessionCache(tmp_path / "s.json"))
    outcomes = await asyncio.gather(*(store.get() for _ in range(5)), return_exceptions=True)
    assert all(isinstance(o, RuntimeError) for o in outcomes)
    assert source.calls == 1
    with pytest.raises(RuntimeError):
        await store.get()  # the next call tries again
    assert source.calls == 2


async def test_a_cancelled_waiter_does_not_cancel_the_others(tmp_path):
    source = _SlowSource()
    store = SessionStore(BASE, source=source, cache=None)
    tasks = [asyncio.create_task(store.get()) for _ in range(3)]
    await asyncio.sleep(0.05)
    tasks[1].cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert isinstance(results[1], asyncio.CancelledError)
    assert [r.cookies["n"] for r in (results[0], results[2])] == ["1", "1"]
    assert source.calls == 1


async def test_refusals_of_an_already_replaced_session_keep_the_new_one(tmp_path):
    source = _SlowSource()
    store = SessionStore(BASE, source=source, cache=SessionCache(tmp_path / "s.json"))
    await store.get()
    refused = store.generation
    store.invalidate(generation=refused)  # the first refusal drops the session
    await store.get()  # a fresh one (source call 2)
    store.invalidate(generation=refused)  # a late refusal of the old session: ignored
    assert (await store.get()).cookies["n"] == "2"
    assert source.calls == 2


# -- who may read the cache --------------------------------------------------------------------


def mode_of(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_folder_and_file_are_private_even_under_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        cache = SessionCache(tmp_path / "new" / "s.json")
        assert cache.save(BASE, browser_args())
    finally:
        os.umask(old)
    assert mode_of(cache.path.parent) == 0o700
    assert mode_of(cache.path) == 0o600
    assert mode_of(cache.path.with_name("s.json.lock")) == 0o600


@pytest.mark.parametrize("operation", ["save", "load"])
def test_a_folder_open_to_others_is_made_private_with_a_warning(tmp_path, caplog, operation):
    folder = tmp_path / "shared"
    folder.mkdir()
    SessionCache(folder / "s.json").save(BASE, browser_args())
    folder.chmod(0o755)
    cache = SessionCache(folder / "s.json")
    with caplog.at_level(logging.DEBUG):
        if operation == "save":
            assert cache.save(BASE, browser_args())
        else:
            assert cache.load(BASE) is not None
    assert mode_of(folder) == 0o700
    assert f"The session cache folder {folder} was open to other users (mode 0755)" in caplog.text
    assert SECRET not in caplog.text


def test_a_folder_that_cannot_be_made_private_is_reported_and_still_used(
    tmp_path, caplog, monkeypatch
):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)

    def refuse(self, mode):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(type(folder), "chmod", refuse)
    cache = SessionCache(folder / "s.json")
    with caplog.at_level(logging.WARNING):
        assert cache.save(BASE, browser_args())
    assert "could not be made private: [Errno 1] Operation not permitted" in caplog.text
    assert mode_of(cache.path) == 0o600  # the file itself stays private
    assert cache.load(BASE) is not None
    assert SECRET not in caplog.text


def test_a_folder_of_another_user_is_reported_not_changed(tmp_path, caplog, monkeypatch):
    folder = tmp_path / "shared"
    folder.mkdir()
    folder.chmod(0o775)
    owner = os.stat(folder).st_uid
    monkeypatch.setattr(os, "getuid", lambda: owner + 1)
    with caplog.at_level(logging.WARNING):
        assert SessionCache(folder / "s.json").save(BASE, browser_args())
    assert mode_of(folder) == 0o775
    assert "is open to other users (mode 0775)" in caplog.text
    assert "CF_PLAYGROUND_CACHE_DIR" in caplog.text


def test_a_shared_folder_given_as_the_cache_folder_is_reported_not_changed(tmp_path, caplog):
    # A home folder, say: it holds more than the cache, so it is not the cache's to close.
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    folder.chmod(0o755)
    with caplog.at_level(logging.WARNING):
        assert SessionCache(folder / "session.json").save(BASE, browser_args())
    assert mode_of(folder) == 0o755
    assert mode_of(folder / "session.json") == 0o600
    assert "holds more than the cache" in caplog.text


def test_the_folder_is_checked_once_per_cache(tmp_path, caplog):
    folder = tmp_path / "shared"
    folder.mkdir(mode=0o700)
    cache = SessionCache(folder / "s.json")
    cache.save(BASE, browser_args())
    folder.chmod(0o755)  # after the check: this cache does not look again (no warning per call)
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        cache.save(BASE, browser_args())
        cache.load(BASE)
    assert not caplog.records
    assert mode_of(folder) == 0o755


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o666, 0o777], ids=lambda m: f"{m:04o}")
def test_a_cache_file_others_can_read_is_made_private_before_it_is_read(tmp_path, caplog, mode):
    cache = SessionCache(tmp_path / "s.json")
    cache.save(BASE, browser_args())
    cache.path.chmod(mode)  # as an editor or a copy with a loose umask leaves it
    with caplog.at_level(logging.DEBUG):
        loaded = SessionCache(cache.path).load(BASE)
    assert loaded is not None
    assert loaded.cookies == {"cf_clearance": SECRET}
    assert mode_of(cache.path) == 0o600
    assert (
        f"The session cache {cache.path} could be read by other users (mode {mode:04o});"
        " made it 0600"
    ) in caplog.text
    assert SECRET not in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert SessionCache(cache.path).load(BASE) is not None
    assert not caplog.records  # a private file is read without a word


def test_a_cache_file_that_cannot_be_made_private_is_not_used(tmp_path, caplog, monkeypatch):
    cache = SessionCache(tmp_path / "s.json")
    cache.save(BASE, browser_args())
    cache.path.chmod(0o644)

    def refuse(fd, mode):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", refuse)
    with caplog.at_level(logging.DEBUG):
        assert cache.load(BASE) is None
        assert cache.entries() == {}
    assert (
        f"The session cache {cache.path} can be read by other users (mode 0644) and could not be"
        " made private ([Errno 1] Operation not permitted); not using it"
    ) in caplog.text
    assert SECRET not in caplog.text
    assert mode_of(cache.path) == 0o644
    # The next write replaces it with a private file, which is used again.
    assert cache.save(BASE, browser_args(cookies={"fresh": "1"}))
    assert mode_of(cache.path) == 0o600
    loaded = cache.load(BASE)
    assert loaded is not None
    assert dict(loaded.cookies) == {"fresh": "1"}


async def test_a_store_over_a_refused_cache_file_asks_its_source(tmp_path, monkeypatch):
    cache = SessionCache(tmp_path / "s.json")
    cache.save(BASE, browser_args())
    cache.path.chmod(0o666)

    def refuse(fd, mode):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "fchmod", refuse)
    source = _CountingSource(browser_args(cookies={"from": "source"}))
    store = SessionStore(BASE, source=source, cache=cache)
    assert dict((await store.get()).cookies) == {"from": "source"}
    assert source.calls == 1

"""The environment Chromium runs in keeps its files in its profile, and a window on the display."""

from __future__ import annotations

from pathlib import Path

from langchain_cloudflare_playground.client.browser.chromium import chromium_environment

USER = {"HOME": "/home/user", "XDG_RUNTIME_DIR": "/run/user/1000", "PATH": "/usr/bin"}


def test_a_headless_browser_keeps_every_folder_of_the_user_in_its_profile(tmp_path):
    env = chromium_environment(str(tmp_path), environ={**USER, "XDG_CONFIG_HOME": "/elsewhere"})
    home = tmp_path / "home"
    assert env["HOME"] == str(home)
    for name in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "XDG_STATE_HOME"):
        assert home in Path(env[name]).parents, name
    assert env["XDG_RUNTIME_DIR"] == str(tmp_path / "run")  # dconf writes there
    # Relative, from the profile (Chromium's working folder): the socket path stays short.
    assert env["TMPDIR"] == "tmp"
    for folder in (home, tmp_path / "tmp", tmp_path / "run"):
        assert folder.is_dir()
        assert folder.stat().st_mode & 0o777 == 0o700
    assert env["PATH"] == "/usr/bin"  # the rest is the caller's
    assert "XAUTHORITY" not in env


def test_a_visible_browser_keeps_the_users_display(tmp_path):
    user_home = tmp_path / "user"
    user_home.mkdir()
    (user_home / ".Xauthority").write_bytes(b"")
    profile = tmp_path / "profile"
    profile.mkdir()
    user = {**USER, "HOME": str(user_home), "DISPLAY": ":0"}
    env = chromium_environment(str(profile), headless=False, environ=user)
    assert env["HOME"] == str(profile / "home")
    assert env["XDG_RUNTIME_DIR"] == "/run/user/1000"  # Wayland's socket and the session bus
    assert env["XAUTHORITY"] == str(user_home / ".Xauthority")  # X11 looks for it in HOME
    given = chromium_environment(str(profile), headless=False, environ={**user, "XAUTHORITY": "/x"})
    assert given["XAUTHORITY"] == "/x"

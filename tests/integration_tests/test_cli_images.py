"""``cf-playground chat --image`` and ``/image``, run as a user runs them: a subprocess against
the real Agents SDK server, whose scripted model reports each image it got by its SHA-256."""

from __future__ import annotations

from tests.helpers import run_cli
from tests.sample_images import ImageHost, gif, images_reported, jpeg, png, reported

VISION = ("--model", "llama-4-scout", "--wire-format", "agents")


def test_chat_with_an_image_file(agents_server, tmp_path):
    photo = tmp_path / "photo.png"
    photo.write_bytes(png(seed=51))
    result = run_cli(
        "chat", "--image", str(photo), "what is this?", "--base-url", agents_server.url, *VISION
    )
    assert result.returncode == 0, result.stderr
    assert images_reported(result.stdout) == [reported(png(seed=51), "image/png")]
    assert "last user: what is this?" in result.stdout


def test_several_images_a_file_and_a_url(agents_server, tmp_path):
    (tmp_path / "a.jpg").write_bytes(jpeg(seed=52))
    with ImageHost({"/b.gif": (200, "image/gif", gif(seed=53))}) as host:
        result = run_cli(
            "chat",
            "compare",
            "--image",
            str(tmp_path / "a.jpg"),
            "--image",
            host.url("/b.gif"),
            "--base-url",
            agents_server.url,
            *VISION,
        )
    assert result.returncode == 0, result.stderr
    assert images_reported(result.stdout) == [
        reported(jpeg(seed=52), "image/jpeg"),
        reported(gif(seed=53), "image/gif"),
    ]


def test_slash_image_attaches_to_the_next_message_only(agents_server, tmp_path):
    (tmp_path / "cat.gif").write_bytes(gif(seed=54))
    typed = (
        f"/image {tmp_path / 'missing.png'}\n/image {tmp_path / 'cat.gif'}\nwhat is it?\nand now?\n"
    )
    result = run_cli("chat", "-i", "--base-url", agents_server.url, *VISION, stdin=typed)
    assert result.returncode == 0, result.stderr
    assert "cannot read the image file" in result.stderr  # the bad one, refused at once
    # The chat's own note goes to stderr: stdout holds the replies alone.
    assert "[image attached to your next message]" in result.stderr
    assert "[image attached" not in result.stdout
    first, second = result.stdout.split("Echo from the mock model.")[1:]
    assert images_reported(first) == [reported(gif(seed=54), "image/gif")]
    # The second turn sends the history again: the image stays with the first message.
    assert images_reported(second) == [reported(gif(seed=54), "image/gif")]
    assert "roles: user,assistant,user" in second


def test_a_bad_image_is_a_usage_error_before_anything_connects(tmp_path):
    (tmp_path / "notes.txt").write_text("words")
    result = run_cli(
        "chat", "hi", "--image", str(tmp_path / "notes.txt"), "--base-url", "http://127.0.0.1:9"
    )
    assert result.returncode == 2
    assert "argument --image" in result.stderr
    assert "is not PNG, JPEG, WebP or GIF" in result.stderr


def test_a_model_without_vision_is_named_with_the_ones_that_have_it(agents_server, tmp_path):
    (tmp_path / "p.png").write_bytes(png())
    result = run_cli(
        "chat", "hi", "--image", str(tmp_path / "p.png"), "--base-url", agents_server.url
    )
    assert result.returncode == 1
    assert "takes no images" in result.stderr
    assert "llama-4-scout" in result.stderr

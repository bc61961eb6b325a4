"""Incremental byte-to-line decoding that survives any split of the byte stream."""

from __future__ import annotations

import codecs
import re

from langchain_cloudflare_playground.client.errors import PlaygroundProtocolError

__all__ = ["LineDecoder"]

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class LineDecoder:
    """Feed raw bytes, get complete lines without their line breaks.

    CR, LF and CRLF all end a line, even when a CRLF or a multi-byte UTF-8 character is split across
    two reads. Unlike ``str.splitlines`` it does not split on U+2028 and friends, which JSON may
    carry unescaped.
    """

    def __init__(self) -> None:
        """Start with an empty buffer."""
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        # Pieces of the unfinished line; a list so a very long line costs linear time.
        self._pending: list[str] = []
        self._error: PlaygroundProtocolError | None = None

    def feed(self, data: bytes) -> list[str]:
        """Add bytes and return the lines they complete.

        Bytes that are not UTF-8 fail the stream, but only after the lines before them are
        handed over: the error comes with the next read (or :meth:`finish`), so garbage after a
        reply's end marker never spoils a reply that was already complete.
        """
        if self._error is not None:
            raise self._error
        held_bytes, _ = self._utf8.getstate()
        try:
            text = self._utf8.decode(data)
        except UnicodeDecodeError as exc:
            self._error = PlaygroundProtocolError(
                f"the stream is not valid UTF-8 ({exc.reason} at byte {exc.start} of a read)"
            )
            text = (held_bytes + data)[: exc.start].decode("utf-8")
        return self._lines_of(text)

    def _lines_of(self, text: str) -> list[str]:
        held_cr = bool(self._pending) and self._pending[-1].endswith("\r")
        if "\n" not in text and "\r" not in text and not (held_cr and text):
            if text:
                self._pending.append(text)
            return []
        self._pending.append(text)
        buffer = "".join(self._pending)
        # A trailing CR may be the first half of a CRLF split across reads: hold it back until
        # the next byte tells.
        held_cr = buffer.endswith("\r")
        if held_cr:
            buffer = buffer[:-1]
        # Most servers end lines with LF alone: str.split gives the same lines as the regular
        # expression, at a fraction of its cost.
        lines = buffer.split("\n") if "\r" not in buffer else _LINE_BREAK.split(buffer)
        tail = lines.pop()
        self._pending = [tail + "\r"] if held_cr else ([tail] if tail else [])
        return lines

    def finish(self) -> list[str]:
        """Flush at end of stream: the unterminated last line, if any."""
        if self._error is not None:
            raise self._error
        try:
            self._pending.append(self._utf8.decode(b"", final=True))
        except UnicodeDecodeError as exc:
            msg = "the stream ended in the middle of a UTF-8 character"
            raise PlaygroundProtocolError(msg) from exc
        lines = _LINE_BREAK.split("".join(self._pending))
        self._pending = []
        if lines[-1] == "":
            lines.pop()
        return lines

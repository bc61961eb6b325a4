"""What a stream has delivered so far, kept so that a failed stream can say how much arrived."""

from __future__ import annotations

__all__ = ["ReceivedText"]

# Deltas are a few characters each, and a list of them costs some 60 bytes per delta on top of the
# text; joined in blocks, a long reply costs little more than its text. A block is also closed at
# _BLOCK_CHARACTERS, so that joining one (which briefly holds it twice) stays small when the
# pieces are large (a batch's text).
_BLOCK = 512
_BLOCK_CHARACTERS = 32 * 1024


class ReceivedText:
    """Text pieces in order, stored compactly."""

    def __init__(self) -> None:
        """Nothing received yet."""
        self._blocks: list[str] = []
        self._pieces: list[str] = []
        self._characters = 0  # in the pieces

    def add(self, piece: str) -> None:
        """Keep ``piece``."""
        self._pieces.append(piece)
        self._characters += len(piece)
        if len(self._pieces) >= _BLOCK or self._characters >= _BLOCK_CHARACTERS:
            self._blocks.append("".join(self._pieces))
            self._pieces.clear()
            self._characters = 0

    def __bool__(self) -> bool:
        """Whether anything arrived."""
        return bool(self._blocks or self._pieces)

    def text(self) -> str:
        """Everything received, joined."""
        return "".join(self._blocks) + "".join(self._pieces)

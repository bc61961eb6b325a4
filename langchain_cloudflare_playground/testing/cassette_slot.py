"""Where vcrpy hands the client the cassette in use: a slot, cheap to import, with no vcrpy in it.

:func:`~langchain_cloudflare_playground.testing.vcr_config` lists the slot among vcrpy's
``custom_patches`` (:func:`cassette_patches`), vcrpy's documented way to give a library the
active cassette: while a cassette is in use, vcrpy sets ``ActiveCassette.slot`` to a subclass
of :class:`CassetteSlot` whose ``cassette`` attribute is that cassette (the innermost one, when
cassettes nest), and puts the empty slot back when the cassette ends.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ActiveCassette", "CassetteSlot", "active_cassette", "cassette_patches"]


class CassetteSlot:
    """Holds no cassette; vcrpy's subclass of it holds the one in use."""

    cassette: Any = None


class ActiveCassette:
    """The slot vcrpy fills (a class, so that configurations can be deep-copied)."""

    slot: type[CassetteSlot] = CassetteSlot


def active_cassette() -> Any | None:  # noqa: ANN401 (vcrpy's Cassette, untyped)
    """The cassette in use, or ``None``."""
    return ActiveCassette.slot.cassette


def cassette_patches() -> tuple[tuple[type, str, type], ...]:
    """Vcrpy's ``custom_patches`` that hand the client the cassette in use.

    Add them to your own vcrpy settings when you do not use ``vcr_config()``, so that
    WebSocket conversations are recorded and replayed too::

        vcr.use_cassette("chat.yaml", custom_patches=cassette_patches())
    """
    return ((ActiveCassette, "slot", CassetteSlot),)

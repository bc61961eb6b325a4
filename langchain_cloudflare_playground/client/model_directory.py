"""The model directory: the playground's catalog, cached for a while, and the names users type."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.errors import ImagesNotSupportedError, PlaygroundError
from langchain_cloudflare_playground.client.models import ModelCatalog, ModelInfo, static_models

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

__all__ = ["ModelDirectory"]

logger = logging.getLogger("langchain_cloudflare_playground")


class ModelDirectory:
    """Lists the playground's chat models and resolves aliases, with a TTL cache.

    Args:
        fetch: Fetches the live catalog (with the client's retries).
        ttl: Seconds a fetched list stays fresh.
        where: The playground's URL, for log lines.
    """

    def __init__(
        self, fetch: Callable[[], Awaitable[list[ModelInfo]]], *, ttl: float, where: str
    ) -> None:
        """Nothing fetched until the first call that needs the live list."""
        self._fetch = fetch
        self.ttl = ttl
        self._where = where
        # The sync twins run on another thread: the list is shared state.
        self._lock = threading.Lock()
        self._catalog = ModelCatalog()
        self._live: tuple[float, list[ModelInfo]] | None = None
        self.fetch_error: PlaygroundError | None = None
        """Why the last fetch failed (the built-in table came back instead); ``None`` after one
        that worked."""

    def cached(self) -> list[ModelInfo] | None:
        """The last live list fetched, however old, or ``None``; never touches the network."""
        live = self._live
        return None if live is None else list(live[1])

    async def alist(self, *, refresh: bool = False) -> list[ModelInfo]:
        """The chat models, fetched when the cached list is missing, stale or ``refresh`` is set.

        When the list cannot be fetched, returns the static alias table and logs a warning.
        """
        live = self._live
        if live is not None and not refresh and time.monotonic() - live[0] < self.ttl:
            return list(live[1])
        try:
            models = await self._fetch()
        except PlaygroundError as exc:
            self.fetch_error = exc
            logger.warning(
                "Could not fetch the model list from %s (%s); using the built-in alias table",
                self._where,
                exc,
            )
            return static_models()
        with self._lock:
            self._live = (time.monotonic(), models)
            self._catalog.add(models)
        self.fetch_error = None
        return list(models)

    async def aresolve(self, name: str | None) -> str:
        """The full model id for an alias, a bare name, or a full id.

        Known names cost nothing; an unknown short name fetches the live list once before
        failing with the closest names.

        Raises:
            ModelNotFoundError: the name matches no model.
        """
        with self._lock:
            resolved = self._catalog.resolve(name)
        if resolved is None and self._live is None:
            await self.alist()
            with self._lock:
                resolved = self._catalog.resolve(name)
        if resolved is None:
            with self._lock:
                raise self._catalog.not_found(name or "")
        return resolved

    def check_takes_images(self, model_id: str) -> None:
        """Refuse images for a model the catalog says has no vision; pass one it does not know.

        The live list is asked when it is cached (however old), else the built-in table: the
        check never touches the network.

        Raises:
            ImagesNotSupportedError: the model is known and has no vision; the message names
                the models that have.
        """
        models = self.cached() or static_models()
        known = next((model for model in models if model.id == model_id), None)
        if known is None or known.vision:
            return
        vision = tuple(model.id for model in models if model.vision)
        names = ", ".join(f"{model.alias} ({model.id})" for model in models if model.vision)
        advice = f"use a vision model: {names}" if names else "no model of the catalog takes images"
        msg = f"{model_id} takes no images (the catalog does not flag it vision); {advice}"
        raise ImagesNotSupportedError(msg, model_id, vision)

"""Model records, the static alias table, and name resolution (pure, no network)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.errors import ModelNotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

from langchain_cloudflare_playground.client.defaults import DEFAULT_MODEL

__all__ = [
    "DEFAULT_MODEL",
    "STATIC_ALIASES",
    "ModelCatalog",
    "ModelInfo",
    "derive_alias",
    "parse_model_list",
]

CHAT_TASK = "Text Generation"

# The fallback when the live list cannot be had. The catalog changes; the live list wins.
STATIC_ALIASES: Mapping[str, str] = MappingProxyType(
    {
        "llama-2-7b": "@cf/meta/llama-2-7b-chat-int8",
        "llama-2-7b-fp16": "@cf/meta/llama-2-7b-chat-fp16",
        "llama-3-8b": "@hf/meta-llama/meta-llama-3-8b-instruct",
        "llama-3.1-8b": "@cf/meta/llama-3.1-8b-instruct-fp8",
        "llama-3.2-1b": "@cf/meta/llama-3.2-1b-instruct",
        "llama-3.2-3b": "@cf/meta/llama-3.2-3b-instruct",
        "llama-3.2-11b-vision": "@cf/meta/llama-3.2-11b-vision-instruct",
        "llama-3.3-70b": "@cf/meta/llama-3.3-70b-instruct-fp8-fast",
        "llama-4-scout": "@cf/meta/llama-4-scout-17b-16e-instruct",
        "llama-guard-3-8b": "@cf/meta/llama-guard-3-8b",
        "mistral-7b-v0.1": "@hf/thebloke/mistral-7b-instruct-v0.1-awq",
        "mistral-7b-v0.2": "@hf/mistral/mistral-7b-instruct-v0.2",
        "mistral-small-3.1-24b": "@cf/mistralai/mistral-small-3.1-24b-instruct",
        "gemma-3-12b": "@cf/google/gemma-3-12b-it",
        "gemma-7b": "@hf/google/gemma-7b-it",
        "qwen-1.5-7b": "@cf/qwen/qwen1.5-7b-chat-awq",
        "qwen-2.5-coder-32b": "@cf/qwen/qwen2.5-coder-32b-instruct",
        "qwq-32b": "@cf/qwen/qwq-32b",
        "qwen3-30b-a3b": "@cf/qwen/qwen3-30b-a3b-fp8",
        "deepseek-r1-qwen-32b": "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b",
        "deepseek-math-7b": "@cf/deepseek-ai/deepseek-math-7b-instruct",
        "gpt-oss-120b": "@cf/openai/gpt-oss-120b",
        "gpt-oss-20b": "@cf/openai/gpt-oss-20b",
        "glm-4.7-flash": "@cf/zai-org/glm-4.7-flash",
        "kimi-k2.6": "@cf/moonshotai/kimi-k2.6",
        "phi-2": "@cf/microsoft/phi-2",
        "falcon-7b": "@cf/tiiuae/falcon-7b-instruct",
        "hermes-2-pro-mistral-7b": "@hf/nousresearch/hermes-2-pro-mistral-7b",
        "tinyllama-1.1b": "@cf/tinyllama/tinyllama-1.1b-chat-v1.0",
    }
)

_FULL_ID_PREFIXES = ("@cf/", "@hf/")
_ALIAS_SUFFIXES = ("-instruct", "-chat", "-fp8", "-fast", "-int8", "-awq", "-it")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model of the playground's catalog.

    Attributes:
        id: The full id to send, such as ``@cf/meta/llama-3.3-70b-instruct-fp8-fast``.
        alias: The short name users type, such as ``llama-3.3-70b``.
        description: The catalog's description, when known.
        task: The catalog's task name (``"Text Generation"`` for chat models), when known.
        properties: Catalog properties such as ``context_window`` or ``function_calling``.
    """

    id: str
    alias: str
    description: str | None = None
    task: str | None = None
    properties: Mapping[str, object] = field(default_factory=dict)

    @property
    def context_window(self) -> int | None:
        """The context window in tokens, when the catalog gives it."""
        value = self.properties.get("context_window")
        try:
            return int(str(value)) if value is not None else None
        except ValueError:
            return None


def derive_alias(model_id: str) -> str:
    """The short name for a full id: the last path part without format suffixes.

    ``@cf/meta/llama-3.3-70b-instruct-fp8-fast`` becomes ``llama-3.3-70b``.
    """
    for alias, known_id in STATIC_ALIASES.items():
        if known_id == model_id:
            return alias
    name = model_id.rsplit("/", 1)[-1]
    stripped = True
    while stripped:
        stripped = False
        for suffix in _ALIAS_SUFFIXES:
            if name.endswith(suffix) and len(name) > len(suffix):
                name = name.removesuffix(suffix)
                stripped = True
    return name


def parse_model_list(payload: object) -> list[ModelInfo]:
    """Read a model list: ``{"models": [...]}``, a bare array, entries as objects or ids.

    Entries are Workers AI catalog objects, where only the name is certain. Models whose task is
    known and is not text generation are left out: the playground chats.
    """
    entries = payload.get("models", []) if isinstance(payload, dict) else payload
    if not isinstance(entries, list):
        return []
    models: list[ModelInfo] = []
    for entry in entries:
        info = _model_from_entry(entry)
        if info is not None and info.task in (None, CHAT_TASK):
            models.append(info)
    return models


def _model_from_entry(entry: object) -> ModelInfo | None:
    if isinstance(entry, str):
        return ModelInfo(id=entry, alias=derive_alias(entry)) if entry else None
    if not isinstance(entry, dict):
        return None
    # Workers AI catalog objects carry a uuid in "id" and the model id in "name".
    names = [v for v in (entry.get("name"), entry.get("id")) if isinstance(v, str) and v]
    model_id = next(
        (n for n in names if n.startswith(_FULL_ID_PREFIXES)), names[0] if names else None
    )
    if model_id is None:
        return None
    task = entry.get("task")
    task_name = task.get("name") if isinstance(task, dict) else task
    properties: dict[str, object] = {}
    raw_properties = entry.get("properties")
    if isinstance(raw_properties, list):
        for prop in raw_properties:
            if isinstance(prop, dict) and "property_id" in prop:
                properties[str(prop["property_id"])] = prop.get("value")
    elif isinstance(raw_properties, dict):
        properties.update(raw_properties)
    description = entry.get("description")
    return ModelInfo(
        id=model_id,
        alias=derive_alias(model_id),
        description=description if isinstance(description, str) else None,
        task=task_name if isinstance(task_name, str) else None,
        properties=MappingProxyType(properties),
    )


def static_models() -> list[ModelInfo]:
    """The static alias table as model records (task assumed: they are all chat models)."""
    return [
        ModelInfo(id=model_id, alias=alias, task=CHAT_TASK)
        for alias, model_id in STATIC_ALIASES.items()
    ]


class ModelCatalog:
    """Resolves the names users type to full model ids.

    Knows the static table from the start and the live list once one has been fetched.
    """

    def __init__(self, live: Iterable[ModelInfo] = ()) -> None:
        """Start from the static table plus any ``live`` models."""
        self._by_alias: dict[str, str] = dict(STATIC_ALIASES)
        self._ids: set[str] = set(STATIC_ALIASES.values())
        self.add(live)

    def add(self, models: Iterable[ModelInfo]) -> None:
        """Learn the names of ``models``; live names win over the static table."""
        for model in models:
            self._ids.add(model.id)
            self._by_alias[model.alias] = model.id

    def resolve(self, name: str | None) -> str | None:
        """The full id for ``name``, or ``None`` when this catalog does not know it.

        Full ``@cf/``/``@hf/`` ids pass through unchanged, known or not.
        """
        if not name:
            return DEFAULT_MODEL
        name = name.strip()
        if name.startswith(_FULL_ID_PREFIXES):
            return name
        lowered = name.lower()
        if lowered in self._by_alias:
            return self._by_alias[lowered]
        for model_id in self._ids:  # a bare last path part such as "qwq-32b"
            if model_id.rsplit("/", 1)[-1].lower() == lowered:
                return model_id
        return None

    def not_found(self, name: str) -> ModelNotFoundError:
        """The error for an unknown name, with the closest known names as advice."""
        candidates = sorted(set(self._by_alias) | {i.rsplit("/", 1)[-1] for i in self._ids})
        close = difflib.get_close_matches(name.lower(), candidates, n=5, cutoff=0.5)
        return ModelNotFoundError(name, close)

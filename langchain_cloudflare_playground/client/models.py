"""Model records, the built-in model table, and name resolution (pure, no network)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING

from langchain_cloudflare_playground.client.close_names import closest_names
from langchain_cloudflare_playground.client.errors import ModelNotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

from langchain_cloudflare_playground.client.defaults import DEFAULT_MODEL

__all__ = [
    "BUILTIN_MODELS",
    "DEFAULT_MODEL",
    "REASONING_MODELS",
    "STATIC_ALIASES",
    "KnownModel",
    "ModelCatalog",
    "ModelInfo",
    "builtin_model",
    "derive_alias",
    "is_reasoning_model",
    "parse_model_list",
]

CHAT_TASK = "Text Generation"


@dataclass(frozen=True, slots=True)
class KnownModel:
    """What the package knows of a model without asking the playground.

    Attributes:
        alias: The short name users type.
        id: The full id it stands for.
        context_window: The context window in tokens, when known.
        vision: The catalog flags the model ``vision`` (it takes images).
        function_calling: The catalog flags the model ``function_calling``.
        paid_only: The catalog flags the model ``require_workers_paid``.
        gone: Why the model is believed gone from the playground; ``None`` while it is in the
            latest capture of the catalog.
    """

    alias: str
    id: str
    context_window: int | None = None
    vision: bool = False
    function_calling: bool = False
    paid_only: bool = False
    gone: str | None = None

    def catalog_properties(self) -> dict[str, str]:
        """These facts as the catalog writes them: ``{property_id: "true"}`` rows and a window."""
        flags = {
            "vision": self.vision,
            "function_calling": self.function_calling,
            "require_workers_paid": self.paid_only,
        }
        properties = {name: "true" for name, on in flags.items() if on}
        if self.context_window is not None:
            properties["context_window"] = str(self.context_window)
        return properties


_GONE = "not in the playground's catalog of 2026-09-30"
_PAID_NOW = f"Workers Paid only since 2026-07-29 (Cloudflare docs PR 32338); {_GONE}"

# The fallback when the live list cannot be had, and what is known of each model. Brought to the
# playground's `getModels` answer as captured on 2026-09-30 (OmniRoute's catalog fixture): the
# flags are that capture's, and every model it lists is here but the `-lora` bases, which serve
# fine-tuned adapters. Context windows come from the earlier Workers AI catalog, else from the
# Workers AI model pages (Granite 4.0, SEA-LION v4; Gemma 4: the 131,072 tokens the API enforces,
# not the 256K its page says, cloudflare-docs issue 29731; none for Nemotron 3, whose page and
# announcement disagree). Models that have left stay, marked `gone`, so that a name in someone's
# code keeps its meaning: the server has the last word on what runs. The live list always wins.
BUILTIN_MODELS: tuple[KnownModel, ...] = (
    KnownModel("llama-3.3-70b", DEFAULT_MODEL, 24000, function_calling=True),
    KnownModel("llama-3.1-8b", "@cf/meta/llama-3.1-8b-instruct-fp8", 32000),
    KnownModel("llama-3.2-1b", "@cf/meta/llama-3.2-1b-instruct", 60000),
    KnownModel("llama-3.2-3b", "@cf/meta/llama-3.2-3b-instruct", 128000),
    KnownModel(
        "llama-3.2-11b-vision", "@cf/meta/llama-3.2-11b-vision-instruct", 128000, vision=True
    ),
    KnownModel(
        "llama-4-scout",
        "@cf/meta/llama-4-scout-17b-16e-instruct",
        131000,
        vision=True,
        function_calling=True,
    ),
    KnownModel("llama-guard-3-8b", "@cf/meta/llama-guard-3-8b"),
    KnownModel(
        "mistral-small-3.1-24b",
        "@cf/mistralai/mistral-small-3.1-24b-instruct",
        128000,
        function_calling=True,
    ),
    KnownModel(
        "gemma-4-26b", "@cf/google/gemma-4-26b-a4b-it", 131072, vision=True, function_calling=True
    ),
    KnownModel("gemma-sea-lion-v4-27b", "@cf/aisingapore/gemma-sea-lion-v4-27b-it", 128000),
    KnownModel("qwen-2.5-coder-32b", "@cf/qwen/qwen2.5-coder-32b-instruct", 32768),
    KnownModel("qwq-32b", "@cf/qwen/qwq-32b", 24000),
    KnownModel("qwen3-30b-a3b", "@cf/qwen/qwen3-30b-a3b-fp8", 32768, function_calling=True),
    KnownModel("qwen3.8-27b", "@cf/qwen/qwen3.8-27b", vision=True, function_calling=True),
    KnownModel("deepseek-r1-qwen-32b", "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b", 80000),
    KnownModel("gpt-oss-120b", "@cf/openai/gpt-oss-120b", 128000, function_calling=True),
    KnownModel("gpt-oss-20b", "@cf/openai/gpt-oss-20b", 128000, function_calling=True),
    KnownModel("glm-4.7-flash", "@cf/zai-org/glm-4.7-flash", 131072, function_calling=True),
    KnownModel("glm-5.3", "@cf/zai-org/glm-5.3", function_calling=True, paid_only=True),
    KnownModel(
        "glm-5.3-flash",
        "@cf/zai-org/glm-5.3-flash",
        vision=True,
        function_calling=True,
        paid_only=True,
    ),
    KnownModel("nemotron-3-120b", "@cf/nvidia/nemotron-3-120b-a12b", function_calling=True),
    KnownModel(
        "granite-4.0-h-micro", "@cf/ibm-granite/granite-4.0-h-micro", 131000, function_calling=True
    ),
    # Gone.
    KnownModel(
        "kimi-k2.6", "@cf/moonshotai/kimi-k2.6", 262144, function_calling=True, gone=_PAID_NOW
    ),
    KnownModel("gemma-3-12b", "@cf/google/gemma-3-12b-it", 80000, gone=_GONE),
    KnownModel("llama-2-7b", "@cf/meta/llama-2-7b-chat-int8", 8192, gone=_GONE),
    KnownModel("llama-2-7b-fp16", "@cf/meta/llama-2-7b-chat-fp16", 4096, gone=_GONE),
    KnownModel("llama-3-8b", "@hf/meta-llama/meta-llama-3-8b-instruct", 8192, gone=_GONE),
    KnownModel("mistral-7b-v0.1", "@hf/thebloke/mistral-7b-instruct-v0.1-awq", 4096, gone=_GONE),
    KnownModel("mistral-7b-v0.2", "@hf/mistral/mistral-7b-instruct-v0.2", 3072, gone=_GONE),
    KnownModel("gemma-7b", "@hf/google/gemma-7b-it", 8192, gone=_GONE),
    KnownModel("qwen-1.5-7b", "@cf/qwen/qwen1.5-7b-chat-awq", 20000, gone=_GONE),
    KnownModel("deepseek-math-7b", "@cf/deepseek-ai/deepseek-math-7b-instruct", 4096, gone=_GONE),
    KnownModel("phi-2", "@cf/microsoft/phi-2", 2048, gone=_GONE),
    KnownModel("falcon-7b", "@cf/tiiuae/falcon-7b-instruct", 4096, gone=_GONE),
    KnownModel(
        "hermes-2-pro-mistral-7b",
        "@hf/nousresearch/hermes-2-pro-mistral-7b",
        24000,
        function_calling=True,
        gone=_GONE,
    ),
    KnownModel("tinyllama-1.1b", "@cf/tinyllama/tinyllama-1.1b-chat-v1.0", 2048, gone=_GONE),
)

_KNOWN_BY_ID: Mapping[str, KnownModel] = MappingProxyType({m.id: m for m in BUILTIN_MODELS})

# Every alias of the built-in table, gone models' included.
STATIC_ALIASES: Mapping[str, str] = MappingProxyType({m.alias: m.id for m in BUILTIN_MODELS})

# The models that think before they answer (a reasoning part, then the text). The catalog does not
# say which; a row's own `reasoning` property wins over this. The families: QwQ, the DeepSeek-R1
# distills, gpt-oss, Qwen3 and 3.8 (not Qwen3-Coder), GLM 4.7 and 5.x, Nemotron 3, Kimi, and
# Gemma 4 (the Workers AI model pages of Nemotron 3 and Gemma 4 say "Reasoning: Yes").
REASONING_MODELS = re.compile(
    r"/(?:qwq-|deepseek-r1-|gpt-oss-|qwen3(?!-coder)|glm-(?:4\.7|5)|nemotron-3-|kimi-|gemma-4-)"
)

_FULL_ID_PREFIXES = ("@cf/", "@hf/")
_ALIAS_SUFFIXES = ("-instruct", "-chat", "-fp8", "-fast", "-int8", "-awq", "-it")


def _flag(value: object) -> bool:
    """A catalog flag: the catalog writes ``"true"``; a boolean is taken as it is."""
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return value is True


def _token_count(value: object) -> int | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        count = int(str(value))
    except ValueError:
        return None
    return count if count > 0 else None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One model of the playground's catalog.

    The flags (``vision``, ``function_calling``, ``paid_only``) are the row's own: the catalog
    lists a flag only when it is set, so a flag it does not list is ``False``, never unknown.
    What the catalog does not carry comes from the built-in knowledge when the row does not say:
    ``context_window`` (``None`` when nobody knows) and ``reasoning`` (``REASONING_MODELS``).

    Attributes:
        id: The full id to send, such as ``@cf/meta/llama-3.3-70b-instruct-fp8-fast``.
        alias: The short name users type, such as ``llama-3.3-70b``.
        description: The catalog's description, when known.
        task: The catalog's task name (``"Text Generation"`` for chat models), when known.
        properties: The catalog's properties as it wrote them, such as
            ``{"function_calling": "true"}``.
    """

    id: str
    alias: str
    description: str | None = None
    task: str | None = None
    properties: Mapping[str, object] = field(default_factory=dict)

    @property
    def vision(self) -> bool:
        """The model takes images (the catalog's ``vision``)."""
        return _flag(self.properties.get("vision"))

    @property
    def function_calling(self) -> bool:
        """The catalog flags the model for tools (``function_calling``).

        The client offers tools to every model, in the prompt; flagged models are the ones
        trained to call them.
        """
        return _flag(self.properties.get("function_calling"))

    @property
    def paid_only(self) -> bool:
        """The catalog flags the model ``require_workers_paid``.

        The flag is about Workers AI's API plans; the playground has been seen offering such
        models all the same.
        """
        return _flag(self.properties.get("require_workers_paid"))

    @property
    def reasoning(self) -> bool:
        """The model thinks before it answers: the row's ``reasoning``, else its family."""
        value = self.properties.get("reasoning")
        return _flag(value) if value is not None else is_reasoning_model(self.id)

    @property
    def context_window(self) -> int | None:
        """The context window in tokens: the row's, else the built-in table's, else ``None``."""
        count = _token_count(self.properties.get("context_window"))
        if count is not None:
            return count
        known = _KNOWN_BY_ID.get(self.id)
        return known.context_window if known is not None else None


def is_reasoning_model(model_id: str) -> bool:
    """Whether ``model_id`` is of a family that thinks before it answers (``REASONING_MODELS``)."""
    return REASONING_MODELS.search(model_id) is not None


def derive_alias(model_id: str) -> str:
    """The short name for a full id: the built-in table's, else made from the id.

    Made, it is the last path part without format suffixes: ``@cf/acme/sparrow-9b-instruct-awq``
    becomes ``sparrow-9b``.
    """
    known = _KNOWN_BY_ID.get(model_id)
    if known is not None:
        return known.alias
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
    if isinstance(entry, str):  # an id alone: what the table knows of it
        known = _KNOWN_BY_ID.get(entry)
        return _from_known(known) if known is not None else _bare(entry)
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


def _bare(model_id: str) -> ModelInfo | None:
    return ModelInfo(id=model_id, alias=derive_alias(model_id)) if model_id else None


def _from_known(known: KnownModel) -> ModelInfo:
    return ModelInfo(
        id=known.id,
        alias=known.alias,
        task=CHAT_TASK,  # the table holds chat models only
        properties=MappingProxyType(known.catalog_properties()),
    )


def builtin_model(name: str | None) -> ModelInfo | None:
    """What the built-in table knows of ``name`` (an alias or a full id), or ``None``."""
    model_id = ModelCatalog().resolve(name)
    known = _KNOWN_BY_ID.get(model_id) if model_id is not None else None
    return _from_known(known) if known is not None else None


def static_models() -> list[ModelInfo]:
    """The built-in table as model records: the models of the latest capture, none gone."""
    return [_from_known(known) for known in BUILTIN_MODELS if known.gone is None]


class ModelCatalog:
    """Resolves the names users type to full model ids.

    Knows the built-in table from the start and the live list once one has been fetched. The
    names of gone models still resolve, but are never suggested unless the live list has them.
    """

    def __init__(self, live: Iterable[ModelInfo] = ()) -> None:
        """Start from the built-in table plus any ``live`` models."""
        self._by_alias: dict[str, str] = dict(STATIC_ALIASES)
        self._ids: set[str] = set(STATIC_ALIASES.values())
        self._gone: set[str] = {known.id for known in BUILTIN_MODELS if known.gone is not None}
        self.add(live)

    def add(self, models: Iterable[ModelInfo]) -> None:
        """Learn the names of ``models``; live names win over the built-in table."""
        for model in models:
            self._ids.add(model.id)
            self._by_alias[model.alias] = model.id
            self._gone.discard(model.id)

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
        names = {alias for alias, i in self._by_alias.items() if i not in self._gone}
        names |= {i.rsplit("/", 1)[-1] for i in self._ids - self._gone}
        return ModelNotFoundError(name, closest_names(name.lower(), names))

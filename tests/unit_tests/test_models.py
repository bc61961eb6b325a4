from __future__ import annotations

import pytest

from langchain_cloudflare_playground.client.models import (
    BUILTIN_MODELS,
    DEFAULT_MODEL,
    STATIC_ALIASES,
    ModelCatalog,
    ModelInfo,
    derive_alias,
    parse_model_list,
    static_models,
)


@pytest.mark.parametrize(
    ("model_id", "alias"),
    [
        ("@cf/meta/llama-3.3-70b-instruct-fp8-fast", "llama-3.3-70b"),
        ("@cf/google/gemma-3-12b-it", "gemma-3-12b"),
        ("@cf/acme/sparrow-9b-instruct-awq", "sparrow-9b"),
        ("@hf/meta-llama/meta-llama-3-8b-instruct", "llama-3-8b"),  # the static table wins
        ("@cf/qwen/qwq-32b", "qwq-32b"),
        ("@cf/google/gemma-4-26b-a4b-it", "gemma-4-26b"),
        ("@cf/google/gemma-2b-it-lora", "gemma-2b-it-lora"),
    ],
)
def test_derive_alias(model_id, alias):
    assert derive_alias(model_id) == alias


def test_every_static_alias_resolves_to_its_id():
    catalog = ModelCatalog()
    for alias, model_id in STATIC_ALIASES.items():
        assert catalog.resolve(alias) == model_id


def test_empty_name_means_the_default_model():
    assert ModelCatalog().resolve(None) == DEFAULT_MODEL
    assert ModelCatalog().resolve("") == DEFAULT_MODEL


def test_full_ids_pass_through_unchanged_even_when_unknown():
    assert ModelCatalog().resolve("@cf/new/brand-new-model") == "@cf/new/brand-new-model"
    assert ModelCatalog().resolve("@hf/x/y") == "@hf/x/y"


def test_bare_last_path_part_and_case_are_accepted():
    catalog = ModelCatalog()
    assert catalog.resolve("llama-3.3-70b-instruct-fp8-fast") == DEFAULT_MODEL
    assert catalog.resolve("LLAMA-3.3-70B") == DEFAULT_MODEL


def test_live_names_win_and_extend_the_table():
    live = parse_model_list({"models": [{"name": "@cf/acme/sparrow-9b-instruct-awq"}]})
    catalog = ModelCatalog(live)
    assert catalog.resolve("sparrow-9b") == "@cf/acme/sparrow-9b-instruct-awq"
    assert ModelCatalog().resolve("sparrow-9b") is None


def test_unknown_name_error_lists_close_matches():
    catalog = ModelCatalog()
    assert catalog.resolve("llama-3.3-7b") is None
    error = catalog.not_found("llama-3.3-7b")
    assert isinstance(error, ValueError)
    assert "llama-3.3-70b" in error.suggestions
    assert "Did you mean" in str(error)


def test_unknown_name_with_nothing_close_points_to_the_list():
    error = ModelCatalog().not_found("zzzzzz")
    assert error.suggestions == []
    assert "cf-playground models" in str(error)


def test_model_list_accepts_both_shapes_and_keeps_chat_models_only():
    entry = {
        "id": "uuid-1",
        "name": "@cf/qwen/qwq-32b",
        "description": "QwQ",
        "task": {"id": "t", "name": "Text Generation"},
        "properties": [{"property_id": "context_window", "value": "24000"}],
    }
    image = {"name": "@cf/bfl/flux", "task": {"name": "Text-to-Image"}}
    for payload in ({"models": [entry, image]}, [entry, image]):
        models = parse_model_list(payload)
        assert [m.id for m in models] == ["@cf/qwen/qwq-32b"]
        assert models[0].alias == "qwq-32b"
        assert models[0].context_window == 24000
        assert models[0].task == "Text Generation"


def test_model_list_ignores_garbage_entries():
    assert parse_model_list({"models": [None, 3, {}, {"name": 5}, "@cf/a/b"]})[0].id == "@cf/a/b"
    assert parse_model_list("nope") == []
    assert parse_model_list({"models": "nope"}) == []


# The playground's `getModels` answer of 2026-09-30 (OmniRoute's catalog fixture,
# `tests/fixtures/cloudflare-playground-catalog.json` in arminanton/OmniRoute at 985173cf): every
# row, all of them Text Generation, with the properties it flags (the catalog writes each "true").
CAPTURED_2026_09_30 = {
    "@cf/openai/gpt-oss-120b": ("function_calling",),
    "@cf/google/gemma-2b-it-lora": ("lora",),
    "@cf/meta/llama-3.2-3b-instruct": ("lora",),
    "@cf/meta/llama-guard-3-8b": ("lora",),
    "@cf/mistral/mistral-7b-instruct-v0.2-lora": ("lora",),
    "@cf/zai-org/glm-5.3": ("require_workers_paid", "function_calling"),
    "@cf/deepseek-ai/deepseek-r1-distill-qwen-32b": (),
    "@cf/meta/llama-3.1-8b-instruct-fp8": (),
    "@cf/zai-org/glm-5.3-flash": ("require_workers_paid", "function_calling", "vision"),
    "@cf/meta/llama-3.2-1b-instruct": (),
    "@cf/zai-org/glm-4.7-flash": ("function_calling",),
    "@cf/meta-llama/llama-2-7b-chat-hf-lora": ("lora",),
    "@cf/meta/llama-3.3-70b-instruct-fp8-fast": ("function_calling",),
    "@cf/ibm-granite/granite-4.0-h-micro": ("function_calling",),
    "@cf/qwen/qwen2.5-coder-32b-instruct": ("lora",),
    "@cf/nvidia/nemotron-3-120b-a12b": ("function_calling",),
    "@cf/aisingapore/gemma-sea-lion-v4-27b-it": (),
    "@cf/qwen/qwen3-30b-a3b-fp8": ("function_calling",),
    "@cf/google/gemma-7b-it-lora": ("lora",),
    "@cf/google/gemma-4-26b-a4b-it": ("function_calling", "vision"),
    "@cf/mistralai/mistral-small-3.1-24b-instruct": ("function_calling",),
    "@cf/meta/llama-3.2-11b-vision-instruct": ("lora", "vision"),
    "@cf/qwen/qwen3.8-27b": ("function_calling", "vision"),
    "@cf/openai/gpt-oss-20b": ("function_calling",),
    "@cf/meta/llama-4-scout-17b-16e-instruct": ("function_calling", "vision"),
    "@cf/qwen/qwq-32b": ("lora",),
}


def row(name: str, **properties: object) -> dict[str, object]:
    """A catalog row as `getModels` answers it."""
    return {
        "id": f"uuid-of-{name}",
        "name": name,
        "task": {"name": "Text Generation"},
        "properties": [{"property_id": k, "value": v} for k, v in properties.items()],
    }


def captured() -> list[ModelInfo]:
    return parse_model_list(
        [row(name, **dict.fromkeys(flags, "true")) for name, flags in CAPTURED_2026_09_30.items()]
    )


def test_the_default_model_and_every_built_in_alias_resolve_in_the_capture():
    assert DEFAULT_MODEL in CAPTURED_2026_09_30
    catalog = ModelCatalog(captured())
    assert catalog.resolve(None) == DEFAULT_MODEL
    for known in BUILTIN_MODELS:
        if known.gone is None:
            assert catalog.resolve(known.alias) == known.id
            assert known.id in CAPTURED_2026_09_30, known.alias
        else:  # marked gone exactly when the capture lacks it
            assert known.id not in CAPTURED_2026_09_30, known.alias


def test_the_built_in_table_has_every_captured_model_but_the_lora_bases():
    current = {m.id for m in static_models()}
    assert current == {n for n in CAPTURED_2026_09_30 if not n.endswith("-lora")}


def test_the_built_in_flags_are_the_captures():
    built_in = {m.id: m for m in static_models()}
    for live in captured():
        if live.id in built_in:
            known = built_in[live.id]
            assert (known.vision, known.function_calling, known.paid_only) == (
                live.vision,
                live.function_calling,
                live.paid_only,
            ), live.id
    assert {m.alias for m in captured() if m.vision} == {
        "llama-3.2-11b-vision",
        "llama-4-scout",
        "gemma-4-26b",
        "qwen3.8-27b",
        "glm-5.3-flash",
    }
    assert {m.alias for m in captured() if m.paid_only} == {"glm-5.3", "glm-5.3-flash"}


def test_what_the_catalog_does_not_carry_comes_from_the_built_in_table():
    by_alias = {m.alias: m for m in captured()}
    assert by_alias["llama-3.3-70b"].context_window == 24000  # the capture has no windows
    assert by_alias["qwen3.8-27b"].context_window is None  # nobody knows it
    assert by_alias["qwq-32b"].reasoning
    assert not by_alias["llama-3.3-70b"].reasoning


def test_a_live_rows_own_properties_win():
    [scout, qwq, llama, unknown] = parse_model_list(
        [
            row("@cf/meta/llama-4-scout-17b-16e-instruct", function_calling="true"),
            row("@cf/qwen/qwq-32b", reasoning="false", vision="TRUE"),
            row(DEFAULT_MODEL, context_window="8000", require_workers_paid=True),
            row("@cf/acme/sparrow-9b-instruct-awq", vision="false", context_window="lots"),
        ]
    )
    assert not scout.vision  # the built-in table says vision; this catalog does not
    assert scout.function_calling
    assert (qwq.reasoning, qwq.vision) == (False, True)
    assert (llama.context_window, llama.paid_only) == (8000, True)
    assert (unknown.vision, unknown.context_window, unknown.reasoning) == (False, None, False)


def test_an_id_alone_gets_what_the_table_knows():
    [scout, stranger] = parse_model_list(
        ["@cf/meta/llama-4-scout-17b-16e-instruct", "@cf/acme/sparrow-9b-instruct-awq"]
    )
    assert (scout.alias, scout.vision, scout.function_calling) == ("llama-4-scout", True, True)
    assert scout.context_window == 131000
    assert (stranger.alias, stranger.vision, stranger.function_calling) == (
        "sparrow-9b",
        False,
        False,
    )


@pytest.mark.parametrize(
    ("model_id", "reasons"),
    [
        ("@cf/qwen/qwq-32b", True),
        ("@cf/deepseek-ai/deepseek-r1-distill-qwen-32b", True),
        ("@cf/openai/gpt-oss-20b", True),
        ("@cf/qwen/qwen3-30b-a3b-fp8", True),
        ("@cf/qwen/qwen3.8-27b", True),
        ("@cf/zai-org/glm-4.7-flash", True),
        ("@cf/zai-org/glm-5.3-flash", True),
        ("@cf/nvidia/nemotron-3-120b-a12b", True),
        ("@cf/moonshotai/kimi-k2.6", True),
        ("@cf/google/gemma-4-26b-a4b-it", True),
        (DEFAULT_MODEL, False),
        ("@cf/qwen/qwen2.5-coder-32b-instruct", False),
        ("@cf/qwen/qwen3-coder-30b-a3b-instruct", False),
        ("@cf/google/gemma-3-12b-it", False),
        ("@cf/aisingapore/gemma-sea-lion-v4-27b-it", False),
        ("@cf/ibm-granite/granite-4.0-h-micro", False),
        ("@cf/mistralai/mistral-small-3.1-24b-instruct", False),
    ],
)
def test_reasoning_families(model_id, reasons):
    assert ModelInfo(id=model_id, alias="x").reasoning is reasons


def test_gone_models_still_resolve_but_are_not_suggested_or_listed():
    catalog = ModelCatalog()
    assert catalog.resolve("kimi-k2.6") == "@cf/moonshotai/kimi-k2.6"  # a name in code keeps it
    assert "kimi-k2.6" not in catalog.not_found("kimi-k2").suggestions
    assert "kimi-k2.6" not in {m.alias for m in static_models()}
    catalog.add(parse_model_list([row("@cf/moonshotai/kimi-k2.6")]))  # back in the live list
    assert "kimi-k2.6" in catalog.not_found("kimi-k2").suggestions

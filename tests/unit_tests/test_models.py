from __future__ import annotations

import pytest

from langchain_cloudflare_playground.client.models import (
    DEFAULT_MODEL,
    STATIC_ALIASES,
    ModelCatalog,
    derive_alias,
    parse_model_list,
)


@pytest.mark.parametrize(
    ("model_id", "alias"),
    [
        ("@cf/meta/llama-3.3-70b-instruct-fp8-fast", "llama-3.3-70b"),
        ("@cf/google/gemma-3-12b-it", "gemma-3-12b"),
        ("@cf/acme/sparrow-9b-instruct-awq", "sparrow-9b"),
        ("@hf/meta-llama/meta-llama-3-8b-instruct", "llama-3-8b"),  # the static table wins
        ("@cf/qwen/qwq-32b", "qwq-32b"),
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

"""A wrong option or temperature fails where it is given, in the same words at every entry point.

The client, ``ChatCloudflarePlayground`` and ``CloudflarePlayground`` share one temperature
check (Workers AI's range, 0 to 5) and one message for a wrong option name: the name, the
closest valid one, and where the whole list is; a key gets one line saying none is needed. A
call refused for its options sends nothing: the server records no request.
"""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage
from pydantic import ValidationError

from langchain_cloudflare_playground import ChatCloudflarePlayground
from langchain_cloudflare_playground.client import ClientOptions, PlaygroundClient
from llama_index_cloudflare_playground import CloudflarePlayground

OUT_OF_RANGE = [5.5, -1, 7, float("nan")]
HI = [ChatMessage(role="user", content="hi")]


def says_out_of_range(message: str, value: float) -> bool:
    """The message names the value, the range, and what to pass instead."""
    return (
        f"temperature={value:g} is out of range" in message
        and "Workers AI takes 0 to 5" in message
        and "pass a number from 0 to 5, or None" in message
    )


# -- temperature: refused at construction -------------------------------------------------------


@pytest.mark.parametrize("model_class", [ChatCloudflarePlayground, CloudflarePlayground])
@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_an_adapter_refuses_a_temperature_out_of_range_when_built(model_class, value):
    with pytest.raises(ValidationError) as caught:
        model_class(temperature=value)
    (error,) = caught.value.errors()
    assert error["loc"] == ("temperature",)
    assert says_out_of_range(error["msg"], value), error["msg"]


def test_the_client_takes_no_temperature_when_built_and_says_where_it_goes():
    with pytest.raises(TypeError) as caught:
        PlaygroundClient("http://127.0.0.1:9", temperature=0.2)
    message = str(caught.value)
    assert "'temperature'" in message
    assert "an option of each chat call (client.chat(..., temperature=...))" in message


# -- temperature: refused per call, before anything is sent --------------------------------------


@pytest.mark.parametrize("value", OUT_OF_RANGE)
def test_the_client_refuses_a_temperature_out_of_range_per_call(data_stream_server, value):
    with PlaygroundClient(data_stream_server.url, wire_format="http") as client:
        with pytest.raises(ValueError, match="out of range") as caught:
            client.chat("hi", temperature=value)
        assert says_out_of_range(str(caught.value), value)
        with pytest.raises(ValueError, match="out of range"):
            client.stream_chat("hi", temperature=value)
    assert data_stream_server.requests == []


async def test_the_async_client_refuses_a_temperature_out_of_range_per_call(data_stream_server):
    async with PlaygroundClient(data_stream_server.url, wire_format="http") as client:
        with pytest.raises(ValueError, match="out of range"):
            await client.achat("hi", temperature=5.5)
        with pytest.raises(ValueError, match="out of range"):
            client.astream_chat("hi", temperature=-1)
        with pytest.raises(TypeError, match="temperature must be a number from 0 to 5"):
            await client.achat("hi", temperature="hot")
    assert data_stream_server.requests == []


def test_the_langchain_model_refuses_a_temperature_out_of_range_per_call(data_stream_server):
    llm = ChatCloudflarePlayground(base_url=data_stream_server.url, wire_format="http")
    with pytest.raises(ValueError, match="out of range") as caught:
        llm.invoke("hi", temperature=5.5)
    assert says_out_of_range(str(caught.value), 5.5)
    with pytest.raises(ValueError, match="out of range"):
        next(iter(llm.stream("hi", temperature=-1)))
    with pytest.raises(ValueError, match="out of range"):
        llm.bind(temperature=7).invoke("hi")
    assert data_stream_server.requests == []


async def test_the_async_langchain_model_refuses_a_temperature_out_of_range(data_stream_server):
    llm = ChatCloudflarePlayground(base_url=data_stream_server.url, wire_format="http")
    with pytest.raises(ValueError, match="out of range"):
        await llm.ainvoke("hi", temperature=5.5)
    assert data_stream_server.requests == []


def test_the_llama_index_llm_refuses_a_temperature_out_of_range_per_call(data_stream_server):
    llm = CloudflarePlayground(base_url=data_stream_server.url, wire_format="http")
    with pytest.raises(ValueError, match="out of range") as caught:
        llm.chat(HI, temperature=5.5)
    assert says_out_of_range(str(caught.value), 5.5)
    with pytest.raises(ValueError, match="out of range"):
        llm.complete("hi", temperature=-1)
    assert data_stream_server.requests == []


async def test_the_async_llama_index_llm_refuses_a_temperature_out_of_range(data_stream_server):
    llm = CloudflarePlayground(base_url=data_stream_server.url, wire_format="http")
    with pytest.raises(ValueError, match="out of range"):
        await llm.achat(HI, temperature=5.5)
    assert data_stream_server.requests == []


# -- temperature: the bounds are taken and sent --------------------------------------------------


@pytest.mark.parametrize("value", [0, 5])
def test_the_bounds_reach_the_server_from_every_entry_point(data_stream_server, value):
    def sent() -> float:
        return data_stream_server.inference_requests[-1].json["temperature"]

    with PlaygroundClient(data_stream_server.url, wire_format="http") as client:
        client.chat("hi", temperature=value)
    assert sent() == value
    url = data_stream_server.url
    ChatCloudflarePlayground(base_url=url, wire_format="http", temperature=value).invoke("hi")
    assert sent() == value
    ChatCloudflarePlayground(base_url=url, wire_format="http").invoke("hi", temperature=value)
    assert sent() == value
    CloudflarePlayground(base_url=url, wire_format="http", temperature=value).chat(HI)
    assert sent() == value
    CloudflarePlayground(base_url=url, wire_format="http").chat(HI, temperature=value)
    assert sent() == value


# -- a wrong option name -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model_class", "wrong", "nearest", "a_field_of_the_full_list"),
    [
        (ChatCloudflarePlayground, "temprature", "temperature", "callbacks"),
        (CloudflarePlayground, "max_token", "max_tokens", "callback_manager"),
    ],
)
def test_a_misspelt_option_of_an_adapter_names_it_and_the_nearest(
    model_class, wrong, nearest, a_field_of_the_full_list
):
    with pytest.raises(ValidationError) as caught:
        model_class(**{wrong: 1})
    (error,) = caught.value.errors()
    message = error["msg"]
    assert f"got unknown option(s) {wrong!r}. Did you mean: {nearest}" in message
    assert f"help({model_class.__name__})" in message
    assert "help(ClientOptions)" in message
    # Not the list of every field and client option (36 names, 800 characters).
    assert a_field_of_the_full_list not in message
    assert "max_connections" not in message
    assert len(message) < 200


def test_a_misspelt_client_option_names_it_and_the_nearest():
    with pytest.raises(TypeError) as caught:
        PlaygroundClient("http://127.0.0.1:9", tranport="direct")
    message = str(caught.value)
    assert message == (
        "PlaygroundClient got unknown client option(s) 'tranport'. Did you mean: transport?"
        " Every option: help(ClientOptions)."
    )
    assert len(message) < len(", ".join(ClientOptions.names()))


def test_a_misspelt_chat_option_names_it_and_the_nearest(data_stream_server):
    with PlaygroundClient(data_stream_server.url) as client, pytest.raises(TypeError) as caught:
        client.chat("hi", max_token=10)
    assert str(caught.value).startswith(
        "chat got unknown option(s) 'max_token'. Did you mean: max_tokens?"
    )
    assert data_stream_server.requests == []


def test_two_wrong_names_each_get_their_nearest():
    with pytest.raises(TypeError) as caught:
        PlaygroundClient("http://127.0.0.1:9", tranport="direct", tiemout=3)
    message = str(caught.value)
    assert "unknown client option(s) 'tiemout', 'tranport'." in message
    assert "'tiemout': did you mean: timeout" in message
    assert "'tranport': did you mean: transport?" in message


@pytest.mark.parametrize(
    "name", ["api_key", "token", "cloudflare_api_key", "cloudflare_api_token", "account_id"]
)
def test_a_key_gets_one_line_saying_none_is_needed(name):
    needs_none = "the playground needs no API key, token or account; leave it out."
    with pytest.raises(TypeError) as from_client:
        PlaygroundClient("http://127.0.0.1:9", **{name: "secret-value"})
    with pytest.raises(ValidationError) as from_langchain:
        ChatCloudflarePlayground(**{name: "secret-value"})
    with pytest.raises(ValidationError) as from_llama_index:
        CloudflarePlayground(**{name: "secret-value"})
    messages = [
        str(from_client.value),
        from_langchain.value.errors()[0]["msg"],
        from_llama_index.value.errors()[0]["msg"],
    ]
    owners = ["PlaygroundClient", "ChatCloudflarePlayground", "CloudflarePlayground"]
    for owner, message in zip(owners, messages, strict=True):
        assert message.endswith(f"{owner} takes no {name!r}: {needs_none}"), message
        assert "\n" not in message
        assert "Did you mean" not in message
    # What a traceback shows: pydantic quotes the input in its errors unless told not to.
    for shown in (from_client.value, from_langchain.value, from_llama_index.value):
        assert "secret-value" not in str(shown)


@pytest.mark.parametrize("model_class", [ChatCloudflarePlayground, CloudflarePlayground])
def test_a_refused_adapter_option_never_shows_the_cookies_given_with_it(model_class):
    cookies = {"cf_clearance": "cookie-secret"}
    for wrong in ({"temprature": 0.2}, {"temperature": 9}):
        with pytest.raises(ValidationError) as refused:
            model_class(cookies=cookies, **wrong)
        assert "cookie-secret" not in str(refused.value)
        assert "cookie-secret" not in repr(refused.value)

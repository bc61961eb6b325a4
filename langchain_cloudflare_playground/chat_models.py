"""``ChatCloudflarePlayground``: the Cloudflare AI Playground as a LangChain chat model."""

from __future__ import annotations

import contextlib
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Literal

from langchain_cloudflare_playground.client.extras import require_extra

# Before the framework's own imports: a missing framework then reads as the extra to install.
require_extra("langchain_core", extra="langchain", needed_by="ChatCloudflarePlayground")

from langchain_core.language_models import ModelProfile
from langchain_core.language_models.chat_models import (
    BaseChatModel,
    agenerate_from_stream,
    generate_from_stream,
)
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    convert_to_messages,
)
from langchain_core.runnables import (
    Runnable,
    RunnableLambda,
    RunnableMap,
    RunnablePassthrough,
)
from langchain_core.utils.function_calling import convert_to_json_schema, convert_to_openai_tool
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    field_validator,
    model_validator,
)

from langchain_cloudflare_playground.client import (
    DEFAULT_MODEL,
    PlaygroundError,
)
from langchain_cloudflare_playground.client.json_replies import json_instruction
from langchain_cloudflare_playground.client.models import builtin_model
from langchain_cloudflare_playground.client.options import base_url_from_env, check_temperature
from langchain_cloudflare_playground.client.shared_clients import (
    adapter_client_options,
    adapter_keywords,
)
from langchain_cloudflare_playground.conversion import (
    PROVIDER,
    ChunkBuilder,
    to_playground_messages,
)
from langchain_cloudflare_playground.langchain_errors import to_langchain_error

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Callable, Iterator, Sequence
    from typing import Self

    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.language_models import LangSmithParams
    from langchain_core.language_models.base import LanguageModelInput
    from langchain_core.outputs import ChatGenerationChunk, ChatResult
    from langchain_core.tools import BaseTool

    from langchain_cloudflare_playground.client import PlaygroundClient
    from langchain_cloudflare_playground.client.options import ClientOptions

__all__ = ["ChatCloudflarePlayground"]


class ChatCloudflarePlayground(BaseChatModel):
    """The Cloudflare AI Playground: free, keyless chat with the models Cloudflare hosts.

    Setup:
        .. code-block:: bash

            pip install "cloudflare-playground[langchain]"
            # optional, for sites that refuse plain clients: a browser session
            pip install "cloudflare-playground[browser]" && apt-get install chromium

    Instantiate:
        .. code-block:: python

            from langchain_cloudflare_playground import ChatCloudflarePlayground

            llm = ChatCloudflarePlayground(
                model="llama-3.3-70b",  # an alias or a full "@cf/..." id
                temperature=0.2,
                max_tokens=1024,
                # base_url="https://playground.ai.cloudflare.com",  # or $CF_PLAYGROUND_URL
            )

    Invoke:
        .. code-block:: python

            messages = [("system", "Translate to French."), ("human", "I love programming.")]
            llm.invoke(messages).content

    Stream:
        .. code-block:: python

            for chunk in llm.stream(messages):
                print(chunk.text, end="")

    Async:
        .. code-block:: python

            await llm.ainvoke(messages)
            async for chunk in llm.astream(messages):
                print(chunk.text, end="")

    Image input (vision models: ``cf-playground models`` marks them; ``llm.profile`` says so):
        .. code-block:: python

            llm = ChatCloudflarePlayground(model="llama-4-scout")
            llm.invoke(
                [
                    HumanMessage(
                        content=[
                            {"type": "text", "text": "What is in this picture?"},
                            {"type": "image", "base64": b64_png, "mime_type": "image/png"},
                            # or {"type": "image", "url": "https://..."} (fetched by the client)
                            # or {"type": "image_url", "image_url": {"url": "data:image/png;..."}}
                        ]
                    )
                ]
            )

    Response metadata:
        .. code-block:: python

            msg = llm.invoke(messages)
            msg.response_metadata  # {"model_name": "@cf/...", "finish_reason": "stop", ...}
            msg.usage_metadata  # token counts, when the playground's wire format reports them
    """

    model_name: str = Field(default=DEFAULT_MODEL, alias="model")
    """The model: an alias such as ``llama-3.3-70b`` or a full ``@cf/``/``@hf/`` id."""
    max_tokens: int = 2048
    """The most tokens a reply may have (the HTTP wire formats honour it)."""
    temperature: float | None = None
    """Sampling temperature, 0 to 5 (Workers AI's range); the model's default when unset."""
    timeout: float = Field(default=300.0, alias="request_timeout")
    """Seconds allowed for the connect, the first byte and each gap between chunks."""
    max_retries: int = 2
    """Retries of retryable failures, made before any text reached the caller."""
    base_url: str | None = Field(default_factory=base_url_from_env)
    """The playground; ``$CF_PLAYGROUND_URL``, then the public site, when unset."""
    proxy: SecretStr | None = None
    """An HTTP proxy for every request (secret: its URL may carry a password)."""
    wire_format: Literal["auto", "agents", "http"] = "auto"
    """``agents`` (the live site's WebSocket), ``http``, or ``auto``: the one the server speaks."""
    streaming: bool = False
    """Whether ``invoke`` streams under the hood (callbacks then see each token)."""
    stop: list[str] | None = Field(default=None, alias="stop_sequences")
    """Stop sequences, enforced on the client when the server ignores them."""
    client_options: dict[str, Any] = Field(default_factory=dict)
    """Other options of the client (``transport``, ``browser``, ``session_cache``, ``cookies``...;
    see ``ClientOptions``). They may also be given as keywords of the model itself."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Chat options sent with every call, as ``bind`` would pass them (``tool_choice``...)."""

    # An error never quotes what it was given: that may hold cookies, a proxy's password, or a
    # key passed by mistake.
    model_config = ConfigDict(
        populate_by_name=True, arbitrary_types_allowed=True, hide_input_in_errors=True
    )

    _client: PlaygroundClient | None = PrivateAttr(default=None)
    _options: ClientOptions | None = PrivateAttr(default=None)

    @model_validator(mode="before")
    @classmethod
    def _sort_keywords(cls, values: Any) -> Any:
        """Client options given as keywords go to ``client_options``; anything else fails."""
        return adapter_keywords(values, cls.model_fields, owner=cls.__name__)

    @field_validator("temperature")
    @classmethod
    def _check_temperature(cls, value: float | None) -> float | None:
        """A temperature Workers AI takes, checked where the model is built."""
        return check_temperature(value)

    @model_validator(mode="after")
    def _check_client_options(self) -> Self:
        """Check the client's options now, so that a mistake fails where the model is built."""
        proxy = self.proxy.get_secret_value() if self.proxy else None
        self._options = adapter_client_options(self, proxy=proxy, model_kwargs=self.model_kwargs)
        return self

    @classmethod
    def is_lc_serializable(cls) -> bool:
        """Serialisable: its fields hold settings only, never the session's cookies."""
        return True

    @property
    def lc_secrets(self) -> dict[str, str]:
        """Serialised as references to environment variables, never as their values.

        The proxy URL may carry a password, and cookies and headers given through
        ``client_options`` are the session itself.
        """
        return {
            "proxy": "CF_PLAYGROUND_PROXY",
            "client_options.cookies": "CF_PLAYGROUND_COOKIES",
            "client_options.headers": "CF_PLAYGROUND_HEADERS",
        }

    def __repr_args__(self) -> Any:
        """Fields as pydantic shows them, with cookie and header values hidden."""
        for name, value in super().__repr_args__():
            if name == "client_options" and isinstance(value, dict):
                yield (
                    name,
                    {
                        key: (_masked(item) if key in ("cookies", "headers") else item)
                        for key, item in value.items()
                    },
                )
            else:
                yield name, value

    @classmethod
    def get_lc_namespace(cls) -> list[str]:
        """Where ``langchain_core.load`` finds the class."""
        return ["langchain_cloudflare_playground", "chat_models"]

    @property
    def _llm_type(self) -> str:
        return PROVIDER

    @property
    def _identifying_params(self) -> dict[str, Any]:
        # Settings only: never the session, its cookies or a proxy password.
        return {
            "model_name": self.model_name,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "wire_format": self.wire_format,
        }

    def _resolve_model_profile(self) -> ModelProfile | None:
        # What the built-in table knows of the model, without the network: what it takes in.
        info = builtin_model(self.model_name)
        if info is None:
            return None
        profile = ModelProfile(
            text_inputs=True,
            text_outputs=True,
            image_inputs=info.vision,
            image_url_inputs=info.vision,  # fetched by the client, sent as data
            image_tool_message=False,  # tool results reach the model as text
            pdf_inputs=False,
            audio_inputs=False,
            video_inputs=False,
            reasoning_output=info.reasoning,
        )
        if info.context_window is not None:
            profile["max_input_tokens"] = info.context_window
        return profile

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = super()._get_ls_params(stop=stop, **kwargs)
        params["ls_provider"] = PROVIDER
        params["ls_model_name"] = kwargs.get("model", self.model_name)
        params["ls_max_tokens"] = kwargs.get("max_tokens", self.max_tokens)
        if self.temperature is not None:
            params["ls_temperature"] = kwargs.get("temperature", self.temperature)
        if stop or self.stop:
            params["ls_stop"] = stop or self.stop
        return params

    @property
    def client(self) -> PlaygroundClient:
        """The client, shared by every model with the same connection settings.

        Models are cheap and often made per request; sharing their client keeps one connection
        pool, one session and one background loop, which close when the interpreter exits.
        """
        if self._client is None:
            from langchain_cloudflare_playground.client.shared_clients import (  # noqa: PLC0415
                shared_client,
            )

            assert self._options is not None  # noqa: S101 (set when the model was built)
            self._client = shared_client(self.base_url, self._options)
        return self._client

    # -- tools and structured output --------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: dict[str, Any] | str | bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """A model that may call ``tools``: LangChain tools, pydantic models, functions or dicts.

        The playground takes no client-defined tools, so the tools and a call format are
        written into the system prompt and the reply is parsed; calls come back as
        ``AIMessage.tool_calls`` (``tool_call_chunks`` when streaming), with arguments checked
        against each tool's schema. A reply that names an unknown tool or has arguments that do
        not fit is sent back to the model once to be fixed; if it still does not fit, it is
        returned as text, with the reason in ``response_metadata["tool_call_problem"]``.
        Models whose catalog entry says ``function_calling`` take the same path.

        Args:
            tools: The tools.
            tool_choice: ``"auto"`` (default), ``"any"``/``"required"``/``True`` (some tool
                must be called), a tool's name (that tool), or ``"none"``.
            kwargs: Passed on to :meth:`bind`.
        """
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        names = [tool["function"]["name"] for tool in formatted]
        return super().bind(tools=formatted, tool_choice=_tool_choice(tool_choice, names), **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_schema", "json_mode"] = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, dict[str, Any] | BaseModel]:
        """A runnable that answers with an object of ``schema`` (validated, for pydantic).

        Args:
            schema: A pydantic class (v1 or v2), a ``TypedDict``, a JSON schema or an OpenAI
                tool dict; ``None`` only with ``method="json_mode"``.
            method: ``"function_calling"`` (default): ``schema`` becomes a tool the model must
                call, so arguments that do not fit are sent back once to be fixed.
                ``"json_schema"``: the model is asked for one JSON object matching the schema,
                and its reply is parsed (code fences and all). ``"json_mode"``: the same, with
                the schema (if any) given as guidance. The playground has no native tool or JSON
                mode, so all three are done in the prompt.
            include_raw: Return ``{"raw", "parsed", "parsing_error"}`` instead of raising on a
                reply that does not parse.
            strict: Accepted for compatibility; arguments are always checked against the schema.
            kwargs: Not accepted (named here to give a clear error).
        """
        # Loaded here: parsers are for structured output only, and importing the model stays cheap.
        from langchain_core.output_parsers import (  # noqa: PLC0415
            JsonOutputParser,
            PydanticOutputParser,
        )
        from langchain_core.output_parsers.openai_tools import (  # noqa: PLC0415
            JsonOutputKeyToolsParser,
            PydanticToolsParser,
        )

        if kwargs:
            msg = f"unexpected arguments: {', '.join(sorted(kwargs))}"
            raise ValueError(msg)
        if method not in ("json_mode", "json_schema", "function_calling"):
            msg = f'method must be "function_calling", "json_schema" or "json_mode", not {method!r}'
            raise ValueError(msg)
        if schema is None and method != "json_mode":
            msg = f'method="{method}" needs a schema; pass one, or use method="json_mode".'
            raise ValueError(msg)
        # Tells LangSmith and callbacks what was asked for, as partner models do.
        traced = {
            "ls_structured_output_format": {
                "kwargs": {"method": method, "strict": strict},
                "schema": convert_to_openai_tool(schema) if schema is not None else None,
            }
        }
        is_pydantic = isinstance(schema, type) and is_basemodel_subclass(schema)
        model: Runnable[LanguageModelInput, BaseMessage]
        parser: Runnable[Any, Any]
        if method == "function_calling":
            name = convert_to_openai_tool(schema)["function"]["name"]  # type: ignore[arg-type]
            model = self.bind_tools([schema], tool_choice=name, **traced)  # type: ignore[list-item]
            parser = (
                PydanticToolsParser(tools=[schema], first_tool_only=True)  # type: ignore[list-item]
                if is_pydantic
                else JsonOutputKeyToolsParser(key_name=name, first_tool_only=True)
            )
        else:
            instruction = _json_instruction(schema)

            def with_instruction(value: LanguageModelInput) -> list[BaseMessage]:
                return [SystemMessage(instruction), *_as_messages(value)]

            model = RunnableLambda(with_instruction) | self.bind(**traced)
            parser = (
                PydanticOutputParser(pydantic_object=schema)  # type: ignore[arg-type]
                if is_pydantic
                else JsonOutputParser()
            )
        if not include_raw:
            return model | parser
        parse = RunnablePassthrough.assign(
            parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
        )
        no_parse = RunnablePassthrough.assign(parsed=lambda _: None)
        return RunnableMap(raw=model) | parse.with_fallbacks(
            [no_parse], exception_key="parsing_error"
        )

    # -- the one streaming path ------------------------------------------------------------

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        builder = ChunkBuilder(stop or self.stop)
        try:
            # What one read brought is taken at once; each chunk the model sent is still its
            # own chunk, with its own callback.
            batches = self.client.astream_chat_batches(
                to_playground_messages(messages), **self._request_options(kwargs)
            )
            async with contextlib.aclosing(batches):
                async for batch in batches:
                    for event in batch:
                        for chunk in builder.feed(event):
                            if run_manager is not None and chunk.text:
                                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                            yield chunk
                        if builder.stopped:
                            break
                    if builder.stopped:
                        break
        except PlaygroundError as exc:
            raise to_langchain_error(exc) from exc
        if builder.stopped:
            yield builder.final_chunk()

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # The client runs the stream on its own loop thread; events, chunks and callbacks are
        # handled here, in the caller's thread, and a running loop (Jupyter) is never blocked.
        builder = ChunkBuilder(stop or self.stop)
        events = self.client.stream_chat(
            to_playground_messages(messages), **self._request_options(kwargs)
        )
        try:
            for event in events:
                for chunk in builder.feed(event):
                    if run_manager is not None and chunk.text:
                        run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
                if builder.stopped:
                    break
        except PlaygroundError as exc:
            raise to_langchain_error(exc) from exc
        finally:
            close = getattr(events, "close", None)
            if close is not None:
                close()
        if builder.stopped:
            yield builder.final_chunk()

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return generate_from_stream(self._stream(messages, stop, run_manager, **kwargs))

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return await agenerate_from_stream(self._astream(messages, stop, run_manager, **kwargs))

    def _request_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        merged = {**self.model_kwargs, **kwargs}
        # OpenAI's tool dicts carry the name, description and parameters the client takes.
        tools = [tool["function"] for tool in merged.get("tools") or ()]
        return {
            "model": merged.get("model", self.model_name),
            "max_tokens": merged.get("max_tokens", self.max_tokens),
            "temperature": merged.get("temperature", self.temperature),
            "tools": tools,
            "tool_choice": merged.get("tool_choice"),
        }


def _json_instruction(schema: dict[str, Any] | type | None) -> str:
    # A pydantic class (v1 or v2), a TypedDict or a schema, as the JSON schema it stands for.
    return json_instruction(None if schema is None else convert_to_json_schema(schema))


def _as_messages(value: LanguageModelInput) -> list[BaseMessage]:
    from langchain_core.prompt_values import PromptValue  # noqa: PLC0415

    if isinstance(value, str):
        return [HumanMessage(value)]
    if isinstance(value, PromptValue):
        return value.to_messages()
    return convert_to_messages(value)


def _masked(value: object) -> object:
    """Cookie or header names with their values hidden."""
    if isinstance(value, dict):
        return dict.fromkeys(value, "**********")
    return "**********"


def _tool_choice(choice: dict[str, Any] | str | bool | None, names: list[str]) -> str | None:  # noqa: FBT001 (LangChain's own type)
    """LangChain's tool choices in the client's terms: auto, required, none or a name."""
    if choice is None or choice is False:
        return None
    if choice is True or choice == "any":
        return "required"
    if isinstance(choice, dict):
        name = (choice.get("function") or {}).get("name") or choice.get("name")
        if not isinstance(name, str):
            msg = (
                f"tool_choice {choice!r} names no tool;"
                " use {'type': 'function', 'function': {'name': ...}}."
            )
            raise ValueError(msg)  # noqa: TRY004 (a wrong value, not a wrong type)
        choice = name
    if choice in ("auto", "required", "none") or choice in names:
        return choice
    msg = (
        f"tool_choice={choice!r} is not one of the bound tools ({', '.join(names)});"
        " use a tool's name, 'auto', 'any', 'required' or 'none'."
    )
    raise ValueError(msg)

"""``CloudflarePlayground``: the Cloudflare AI Playground as a LlamaIndex LLM."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any, Literal

from langchain_cloudflare_playground.client.extras import require_extra

# Before the framework's own imports: a missing framework then reads as the extra to install.
require_extra("llama_index.core", extra="llama-index", needed_by="CloudflarePlayground")

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from langchain_cloudflare_playground.client import (
    DEFAULT_MODEL,
)
from langchain_cloudflare_playground.client.models import builtin_model
from langchain_cloudflare_playground.client.options import base_url_from_env, check_temperature
from langchain_cloudflare_playground.client.shared_clients import (
    adapter_client_options,
    adapter_keywords,
)
from llama_index_cloudflare_playground.conversion import (
    ResponseBuilder,
    as_completion,
    last_response,
    to_playground_messages,
)

if TYPE_CHECKING:
    from collections.abc import Sequence
    from typing import Self

    from llama_index.core.tools.types import BaseTool

    from langchain_cloudflare_playground.client import PlaygroundClient
    from langchain_cloudflare_playground.client.options import ClientOptions

__all__ = ["CloudflarePlayground"]

DEFAULT_CONTEXT_WINDOW = 8192  # when the model list does not say


class CloudflarePlayground(FunctionCallingLLM, CustomLLM):
    """The Cloudflare AI Playground as a LlamaIndex LLM: free, keyless, chat-first.

    It is a function-calling LLM: ``FunctionAgent``, ``predict_and_call`` and
    ``structured_predict`` work with plain Python tools. The playground takes no client-defined
    tools, so the shared client offers them in the prompt and parses the reply; calls come back
    as ``ToolCallBlock`` s with arguments checked against each tool's schema.

    .. code-block:: python

        from llama_index_cloudflare_playground import CloudflarePlayground

        llm = CloudflarePlayground(model="llama-3.3-70b", temperature=0.2)
        print(llm.complete("What is Workers AI?"))
        for r in llm.stream_chat([ChatMessage(role="user", content="Hi")]):
            print(r.delta, end="")

    Vision models (``llm.takes_images``) read ``ImageBlock`` s of user messages: bytes, a path,
    or a URL (an ``http(s)`` one is fetched by the client)::

        llm = CloudflarePlayground(model="llama-4-scout")
        question = ChatMessage(
            role="user",
            blocks=[ImageBlock(path="photo.png"), TextBlock(text="What is in this picture?")],
        )
        print(llm.chat([question]))
    """

    # An error never quotes what it was given: that may hold cookies, a proxy's password, or a
    # key passed by mistake. (Merged with LlamaIndex's own settings.)
    model_config = ConfigDict(hide_input_in_errors=True)

    model: str = Field(default=DEFAULT_MODEL, description="An alias or a full @cf/ id.")
    max_tokens: int = Field(default=2048, description="The most tokens a reply may have.")
    temperature: float | None = Field(
        default=None, description="Sampling temperature, 0 to 5 (Workers AI's range)."
    )
    timeout: float = Field(default=300.0, description="Seconds allowed for each wait.")
    max_retries: int = Field(default=2, description="Retries before any text arrived.")
    base_url: str | None = Field(
        default_factory=base_url_from_env,
        description="The playground; $CF_PLAYGROUND_URL, then the public site.",
    )
    # Left out of serialisation: a proxy URL may carry a password.
    proxy: str | None = Field(
        default=None, description="An HTTP proxy for every request.", exclude=True, repr=False
    )
    wire_format: Literal["auto", "agents", "http"] = Field(
        default="auto", description="agents (the live site's WebSocket), http, or auto."
    )
    context_window: int | None = Field(
        default=None, description="The model's context window; from the model list if unset."
    )
    # Left out of serialisation and reprs: cookies and headers are the session itself.
    client_options: dict[str, Any] = Field(
        default_factory=dict,
        description="Other client options (transport, browser, session_cache, cookies...).",
        exclude=True,
        repr=False,
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
        self._options = adapter_client_options(self, proxy=self.proxy)
        return self

    @classmethod
    def class_name(cls) -> str:
        """The name LlamaIndex serialises this LLM under."""
        return "CloudflarePlayground"

    @property
    def client(self) -> PlaygroundClient:
        """The client, shared by every LLM with the same connection settings."""
        if self._client is None:
            from langchain_cloudflare_playground.client.shared_clients import (  # noqa: PLC0415
                shared_client,
            )

            assert self._options is not None  # noqa: S101 (set when the LLM was built)
            self._client = shared_client(self.base_url, self._options)
        return self._client

    @property
    def metadata(self) -> LLMMetadata:
        """A chat model; its context window from the model list once that is known."""
        return LLMMetadata(
            context_window=self.context_window or self._known_context_window(),
            num_output=self.max_tokens,
            is_chat_model=True,
            is_function_calling_model=True,  # by prompt, on every model (see the class doc)
            model_name=self.model,
        )

    @property
    def takes_images(self) -> bool:
        """Whether the catalog flags the model vision (it reads ``ImageBlock`` s).

        From the model list once fetched, else the built-in table; a model neither knows counts
        as not. LlamaIndex's ``LLMMetadata`` has no such field; this is where to look instead.
        """
        known = builtin_model(self.model)
        model_id = known.id if known is not None else self.model
        live = self.client.cached_models()  # the cached list only: no network here
        if live is not None:
            return any(info.vision for info in live if model_id in (info.id, info.alias))
        return known is not None and known.vision

    def _known_context_window(self) -> int:
        live = self.client.cached_models()  # the cached list only: no network here
        if live is not None:
            for info in live:
                if self.model in (info.id, info.alias) and info.context_window:
                    return info.context_window
        return DEFAULT_CONTEXT_WINDOW

    # -- chat: native on the client --------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """The whole reply to ``messages``."""
        return last_response(self._responses(messages, kwargs))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """The reply as it arrives: each response holds the text so far and the delta."""
        return self._responses(messages, kwargs)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """The whole reply to ``messages``."""
        last: ChatResponse | None = None
        async for response in self._aresponses(messages, kwargs):
            last = response
        assert last is not None  # noqa: S101 (every stream ends with a response)
        return last

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """The reply as it arrives (a coroutine that returns an async generator)."""
        return self._aresponses(messages, kwargs)

    def _responses(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> ChatResponseGen:
        # Checked now, so a bad message fails at the call, not at the first iteration.
        payload, options = self._to_playground(messages), self._chat_options(kwargs)
        builder = ResponseBuilder()
        for event in self.client.stream_chat(payload, **options):
            response = builder.feed(event)
            if response is not None:
                yield response

    async def _aresponses(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> ChatResponseAsyncGen:
        payload, options = self._to_playground(messages), self._chat_options(kwargs)
        builder = ResponseBuilder()
        # What one read brought is taken at once; each response is still yielded on its own.
        batches = self.client.astream_chat_batches(payload, **options)
        async with contextlib.aclosing(batches):
            async for batch in batches:
                for event in batch:
                    response = builder.feed(event)
                    if response is not None:
                        yield response

    # -- completion: built on chat ---------------------------------------------------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:  # noqa: FBT001, FBT002 (LlamaIndex's signature)
        """The whole reply to ``prompt``."""
        return as_completion(
            last_response(self._responses(self._prompt_messages(prompt, formatted), kwargs))
        )

    @llm_completion_callback()
    def stream_complete(
        self,
        prompt: str,
        formatted: bool = False,  # noqa: FBT001, FBT002
        **kwargs: Any,
    ) -> CompletionResponseGen:
        """The reply to ``prompt`` as it arrives."""
        responses = self._responses(self._prompt_messages(prompt, formatted), kwargs)
        return (as_completion(response) for response in responses)

    @llm_completion_callback()
    async def acomplete(
        self,
        prompt: str,
        formatted: bool = False,  # noqa: FBT001, FBT002
        **kwargs: Any,
    ) -> CompletionResponse:
        """The whole reply to ``prompt``."""
        last: ChatResponse | None = None
        async for last in self._aresponses(self._prompt_messages(prompt, formatted), kwargs):  # noqa: B007
            pass
        assert last is not None  # noqa: S101 (every stream ends with a response)
        return as_completion(last)

    @llm_completion_callback()
    async def astream_complete(
        self,
        prompt: str,
        formatted: bool = False,  # noqa: FBT001, FBT002
        **kwargs: Any,
    ) -> CompletionResponseAsyncGen:
        """The reply to ``prompt`` as it arrives."""
        responses = self._aresponses(self._prompt_messages(prompt, formatted), kwargs)

        async def gen() -> CompletionResponseAsyncGen:
            async for response in responses:
                yield as_completion(response)

        return gen()

    # -- mapping ---------------------------------------------------------------------------

    def _prompt_messages(self, prompt: str, formatted: bool) -> list[ChatMessage]:  # noqa: FBT001
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        return [ChatMessage(role=MessageRole.USER, content=prompt)]

    def _to_playground(self, messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
        return to_playground_messages(messages, self.system_prompt)

    def _chat_options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {
            "model": kwargs.get("model", self.model),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "temperature": kwargs.get("temperature", self.temperature),
            "tools": kwargs.get("tools"),
            "tool_choice": kwargs.get("tool_choice"),
        }

    # -- function calling ------------------------------------------------------------------

    def _prepare_chat_with_tools(  # noqa: PLR0913, PLR0917 (LlamaIndex's signature)
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,  # noqa: FBT001, FBT002, ARG002
        allow_parallel_tool_calls: bool = False,  # noqa: FBT001, FBT002, ARG002
        tool_required: bool = False,  # noqa: FBT001, FBT002
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """The ``chat`` arguments that offer ``tools``: the messages, the tools, the choice."""
        messages = list(chat_history or [])
        if user_msg is not None:
            if isinstance(user_msg, str):
                user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
            messages.append(user_msg)
        offered = [
            {
                "name": tool.metadata.get_name(),
                "description": tool.metadata.description,
                "parameters": tool.metadata.get_parameters_dict(),
            }
            for tool in tools
        ]
        if isinstance(tool_choice, dict):  # OpenAI's {"type": "function", "function": {...}}
            tool_choice = tool_choice.get("function", {}).get("name")
        choice = tool_choice or ("required" if tool_required else "auto")
        return {"messages": messages, "tools": offered, "tool_choice": choice, **kwargs}

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],  # noqa: ARG002
        allow_parallel_tool_calls: bool = False,  # noqa: FBT001, FBT002
        **kwargs: Any,  # noqa: ARG002
    ) -> ChatResponse:
        """Keep only the first call unless parallel calls were allowed."""
        if not allow_parallel_tool_calls:
            calls = [b for b in response.message.blocks if isinstance(b, ToolCallBlock)]
            for extra in calls[1:]:
                response.message.blocks.remove(extra)
        return response

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,  # noqa: FBT001, FBT002
        **kwargs: Any,  # noqa: ARG002
    ) -> list[ToolSelection]:
        """The calls in ``response``, as LlamaIndex tool selections."""
        calls = [
            ToolSelection(
                tool_id=block.tool_call_id or "",
                tool_name=block.tool_name,
                tool_kwargs=block.tool_kwargs if isinstance(block.tool_kwargs, dict) else {},
            )
            for block in response.message.blocks
            if isinstance(block, ToolCallBlock)
        ]
        if not calls and error_on_no_tool_call:
            problem = response.additional_kwargs.get("tool_call_problem")
            msg = f"the model called no tool{f': {problem}' if problem else ''}."
            raise ValueError(msg)
        return calls

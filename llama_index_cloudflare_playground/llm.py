"""``CloudflarePlayground``: the Cloudflare AI Playground as a LlamaIndex LLM."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

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
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.bridge.pydantic import Field, PrivateAttr, model_validator
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from langchain_cloudflare_playground.client import (
    DEFAULT_MODEL,
    Finish,
    ReasoningDelta,
    TextDelta,
    ToolCall,
)
from langchain_cloudflare_playground.client.options import base_url_from_env
from langchain_cloudflare_playground.client.shared_clients import (
    adapter_client_options,
    adapter_keywords,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from llama_index.core.tools.types import BaseTool
    from typing_extensions import Self

    from langchain_cloudflare_playground.client import ChatEvent, PlaygroundClient
    from langchain_cloudflare_playground.client.options import ClientOptions

__all__ = ["CloudflarePlayground"]

_ROLES = {
    MessageRole.SYSTEM: "system",
    MessageRole.USER: "user",
    MessageRole.ASSISTANT: "assistant",
}
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
    """

    model: str = Field(default=DEFAULT_MODEL, description="An alias or a full @cf/ id.")
    max_tokens: int = Field(default=2048, description="The most tokens a reply may have.")
    temperature: float | None = Field(default=None, description="Sampling temperature.")
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
        return _last(self._responses(messages, kwargs))

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
        builder = _ResponseBuilder()
        for event in self.client.stream_chat(payload, **options):
            response = builder.feed(event)
            if response is not None:
                yield response

    async def _aresponses(
        self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]
    ) -> ChatResponseAsyncGen:
        payload, options = self._to_playground(messages), self._chat_options(kwargs)
        builder = _ResponseBuilder()
        async for event in self.client.astream_chat(payload, **options):
            response = builder.feed(event)
            if response is not None:
                yield response

    # -- completion: built on chat ---------------------------------------------------------

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:  # noqa: FBT001, FBT002 (LlamaIndex's signature)
        """The whole reply to ``prompt``."""
        return _as_completion(
            _last(self._responses(self._prompt_messages(prompt, formatted), kwargs))
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
        return (_as_completion(response) for response in responses)

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
        return _as_completion(last)

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
                yield _as_completion(response)

        return gen()

    # -- mapping ---------------------------------------------------------------------------

    def _prompt_messages(self, prompt: str, formatted: bool) -> list[ChatMessage]:  # noqa: FBT001
        if not formatted and self.completion_to_prompt is not None:
            prompt = self.completion_to_prompt(prompt)
        return [ChatMessage(role=MessageRole.USER, content=prompt)]

    def _to_playground(self, messages: Sequence[ChatMessage]) -> list[dict[str, Any]]:
        converted: list[dict[str, Any]] = []
        if self.system_prompt and not any(m.role == MessageRole.SYSTEM for m in messages):
            converted.append({"role": "system", "content": self.system_prompt})
        for index, message in enumerate(messages):
            role = MessageRole(message.role)
            if role == MessageRole.TOOL:
                converted.append(
                    {
                        "role": "tool",
                        "tool_call_id": message.additional_kwargs.get("tool_call_id"),
                        "name": message.additional_kwargs.get("name"),
                        "content": _text_of(message, index),
                    }
                )
                continue
            if role not in _ROLES:
                msg = (
                    f"messages[{index}] has role {role.value!r}; the playground takes system,"
                    " user, assistant and tool messages."
                )
                raise ValueError(msg)
            entry: dict[str, Any] = {"role": _ROLES[role], "content": _text_of(message, index)}
            calls = [block for block in message.blocks if isinstance(block, ToolCallBlock)]
            if calls:
                entry["tool_calls"] = [
                    {"id": b.tool_call_id or "", "name": b.tool_name, "arguments": b.tool_kwargs}
                    for b in calls
                ]
            converted.append(entry)
        return converted

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


def _text_of(message: ChatMessage, index: int) -> str:
    texts = []
    for part, block in enumerate(message.blocks):
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, (ThinkingBlock, ToolCallBlock)):
            # Earlier reasoning is not part of the conversation; calls travel as tool_calls.
            continue
        else:
            msg = (
                f"messages[{index}].blocks[{part}] is a {type(block).__name__}; the Cloudflare AI"
                " Playground takes text only."
            )
            raise ValueError(msg)  # noqa: TRY004 (a value the playground cannot carry)
    return "".join(texts)


class _ResponseBuilder:
    """Turns client events into chat responses: the one mapping every stream uses."""

    def __init__(self) -> None:
        # Each response carries the whole text so far; a running string costs one copy per
        # delta, where joining a list of every delta each time costs a pass over all of them.
        self._text = ""
        self._reasoning = ""
        self._calls: list[ToolCall] = []

    def feed(self, event: ChatEvent) -> ChatResponse | None:
        if isinstance(event, TextDelta):
            self._text += event.text
            return self._response(delta=event.text)
        if isinstance(event, ReasoningDelta):
            self._reasoning += event.text
            return None  # reasoning is kept apart; it shows in the final message
        if isinstance(event, ToolCall):
            self._calls.append(event)
            return None  # calls show whole, in the final message
        return self._finish(event)

    def _finish(self, event: Finish) -> ChatResponse:
        extra: dict[str, Any] = {"finish_reason": event.reason, "model": event.model}
        if event.tool_call_problem is not None:
            extra["tool_call_problem"] = event.tool_call_problem
        if event.usage is not None:
            extra.update(
                prompt_tokens=event.usage.input_tokens,
                completion_tokens=event.usage.output_tokens,
                total_tokens=event.usage.total_tokens,
            )
        return self._response(delta="", additional_kwargs=extra)

    def _response(
        self, *, delta: str, additional_kwargs: dict[str, Any] | None = None
    ) -> ChatResponse:
        blocks: list[Any] = []
        if self._reasoning:
            blocks.append(ThinkingBlock(content=self._reasoning))
        blocks.append(TextBlock(text=self._text))
        blocks.extend(
            ToolCallBlock(tool_call_id=c.id, tool_name=c.name, tool_kwargs=dict(c.arguments))
            for c in self._calls
        )
        message = ChatMessage(role=MessageRole.ASSISTANT, blocks=blocks)
        return ChatResponse(message=message, delta=delta, additional_kwargs=additional_kwargs or {})


def _last(responses: ChatResponseGen) -> ChatResponse:
    last: ChatResponse | None = None
    for last in responses:  # noqa: B007 (the last one is the whole reply)
        pass
    assert last is not None  # noqa: S101 (every stream ends with a response)
    return last


def _as_completion(response: ChatResponse) -> CompletionResponse:
    return CompletionResponse(
        text=response.message.content or "",
        delta=response.delta,
        raw=response.raw,
        additional_kwargs=response.additional_kwargs,
    )

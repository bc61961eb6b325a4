"""What the project's runs of LangChain's standard integration suite share.

The local runs (``tests/integration_tests/test_standard.py``) and the live canary
(``tests/live_tests``) subclass it with where to connect.
"""

from __future__ import annotations

from langchain_tests.integration_tests import ChatModelIntegrationTests

from langchain_cloudflare_playground import ChatCloudflarePlayground


class PlaygroundContract(ChatModelIntegrationTests):
    """The model, what it supports, the model to override with."""

    @property
    def chat_model_class(self) -> type[ChatCloudflarePlayground]:
        return ChatCloudflarePlayground

    @property
    def supports_json_mode(self) -> bool:
        return True

    @property
    def has_tool_calling(self) -> bool:
        return True  # in the prompt, parsed by the client (see bind_tools)

    @property
    def has_tool_choice(self) -> bool:
        return True

    @property
    def has_structured_output(self) -> bool:
        return True

    @property
    def model_override_value(self) -> str:
        return "@cf/meta/llama-3.1-8b-instruct-fp8"

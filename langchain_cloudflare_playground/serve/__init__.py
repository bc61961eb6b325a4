"""``cf-playground serve``: the playground behind an OpenAI-compatible endpoint.

An adapter like the LangChain and LlamaIndex ones: OpenAI requests are mapped in and the shared
client's events mapped out; it knows nothing of wire formats or transports, and imports neither
framework. The parts:

- ``openai_request``: a ``/v1/chat/completions`` body checked once, into the client's terms;
- ``openai_reply``: client events into OpenAI deltas, the one mapping both the streamed and the
  whole reply use, and the shapes of completions, chunks and models;
- ``openai_errors``: every failure in OpenAI's error shape, with its status, in one place;
- ``admission``: the cap on conversations in flight and its queue, the body size limit, the key;
- ``disconnects``: work that a client leaving cancels, and the server-sent event stream;
- ``app``: the Starlette application; ``settings``: the server's settings and the check that
  keeps it on loopback without a key; ``runner``: uvicorn.

Needs the ``serve`` extra (Starlette and uvicorn).
"""

from langchain_cloudflare_playground.client.extras import require_extra

require_extra("starlette", extra="serve", needed_by="cf-playground serve")
require_extra("uvicorn", extra="serve", needed_by="cf-playground serve")

from langchain_cloudflare_playground.serve.app import create_app  # noqa: E402
from langchain_cloudflare_playground.serve.runner import run  # noqa: E402
from langchain_cloudflare_playground.serve.settings import (  # noqa: E402
    ServeSettings,
    UnsafeBindError,
    check_bind,
)

__all__ = ["ServeSettings", "UnsafeBindError", "check_bind", "create_app", "run"]

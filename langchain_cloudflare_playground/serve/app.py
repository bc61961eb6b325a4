"""The Starlette application: the OpenAI routes, ``/health``, and what guards them.

One client for the whole process, closed when the application shuts down. Routes:
``POST /v1/chat/completions``, ``GET /v1/models``, ``GET /v1/models/{id}`` (an alias works
too) and ``GET /health`` (no key needed: it says nothing but how busy the server is).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import JSONResponse
from starlette.routing import Route

from langchain_cloudflare_playground.client.errors import ModelNotFoundError
from langchain_cloudflare_playground.serve.admission import ConversationGate, RequestGuard
from langchain_cloudflare_playground.serve.completions import ChatCompletions, error_response
from langchain_cloudflare_playground.serve.openai_errors import OpenAIError, from_exception
from langchain_cloudflare_playground.serve.openai_reply import model_object

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from starlette.requests import Request
    from starlette.responses import Response

    from langchain_cloudflare_playground.client.playground import PlaygroundClient
    from langchain_cloudflare_playground.serve.settings import ServeSettings

__all__ = ["create_app"]


def create_app(client: PlaygroundClient, settings: ServeSettings) -> Starlette:
    """The application, answering with ``client`` (which it closes when it shuts down)."""
    gate = ConversationGate(settings.max_concurrency, settings.max_queue)
    completions = ChatCompletions(client, gate)

    async def health(_request: Request) -> Response:
        return JSONResponse(
            {
                "status": "ok",
                "conversations": {
                    "in_flight": gate.in_flight,
                    "waiting": gate.waiting,
                    "limit": gate.limit,
                    "queue": gate.queue,
                },
            }
        )

    async def list_models(_request: Request) -> Response:
        try:
            models = await client.alist_models()
        except Exception as exc:  # noqa: BLE001 (answered in OpenAI's shape)
            return error_response(from_exception(exc), exc)
        return JSONResponse({"object": "list", "data": [model_object(m) for m in models]})

    async def get_model(request: Request) -> Response:
        name = request.path_params["model_id"]
        try:
            model_id = await client.aresolve_model(name)
            found = [m for m in await client.alist_models() if m.id == model_id]
        except ModelNotFoundError as exc:
            return _no_such_model(str(exc))
        except Exception as exc:  # noqa: BLE001
            return error_response(from_exception(exc), exc)
        if not found:
            return _no_such_model(f"the playground's catalog has no model {model_id!r}")
        return JSONResponse(model_object(found[0]))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await client.aclose()

    middleware = [
        Middleware(RequestGuard, api_key=settings.api_key, max_body_bytes=settings.max_body_bytes)
    ]
    if settings.cors_origins:  # outermost, so that a preflight needs no key
        cors = Middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type"],
        )
        middleware.insert(0, cors)
    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route("/v1/models", list_models, methods=["GET"]),
            Route("/v1/models/{model_id:path}", get_model, methods=["GET"]),
            Route("/v1/chat/completions", completions.answer, methods=["POST"]),
        ],
        middleware=middleware,
        exception_handlers={HTTPException: _http_error},
        lifespan=lifespan,
    )


def _no_such_model(message: str) -> Response:
    error = OpenAIError(404, message, param="model", code="model_not_found")
    return error_response(error)


async def _http_error(_request: Request, exc: Exception) -> Response:
    """Starlette's own refusals (no such route, wrong method) in OpenAI's shape."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    error = OpenAIError(status, str(getattr(exc, "detail", "")) or "error", code=f"http_{status}")
    return error_response(error)

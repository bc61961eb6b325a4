"""One driver per dialect: a codec over a transport, behind the same two calls.

``stream(request)`` yields the reply's events; ``list_models()`` returns the catalog. The client
picks a driver and adds what is common: model names, retries, the session.
"""

from langchain_cloudflare_playground.client.dialects.agents import AgentsDialect
from langchain_cloudflare_playground.client.dialects.http import HttpDialects

__all__ = ["AgentsDialect", "HttpDialects"]

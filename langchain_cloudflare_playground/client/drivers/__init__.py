"""One driver per wire format, behind the same two calls.

``stream(route, request)`` yields the reply's events; ``list_models(route)`` returns the
catalog. The router picks the driver and the route; the client adds what is common: model
names, retries, the session.
"""

from langchain_cloudflare_playground.client.drivers.agents_driver import AgentsDriver
from langchain_cloudflare_playground.client.drivers.base import Route
from langchain_cloudflare_playground.client.drivers.http_driver import HttpDriver

__all__ = ["AgentsDriver", "HttpDriver", "Route"]

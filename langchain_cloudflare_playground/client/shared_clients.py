"""What both framework adapters share: how their keywords become client options, and the clients.

Both adapters have the same fields for the options people set most (``timeout``,
``max_retries``, ``proxy``, ``wire_format``) and a ``client_options`` dict for every other
option of :class:`~langchain_cloudflare_playground.client.options.ClientOptions`. A client
option given as a keyword of the model itself lands in ``client_options``; any other unknown
keyword fails when the model is built, naming the valid ones.

Models are cheap and often made per request; sharing one client per set of connection settings
keeps one connection pool, one session and one background loop, closed when the interpreter
exits, instead of a client (and its sockets) left for the garbage collector by every model.
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING, Any, Protocol

from langchain_cloudflare_playground.client.options import (
    CHAT_OPTION_NAMES,
    ClientOptions,
    unknown_options_message,
    wire_format_from_dialect,
)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from langchain_cloudflare_playground.client.playground import PlaygroundClient

__all__ = ["AdapterFields", "adapter_client_options", "adapter_keywords", "shared_client"]

_CLIENTS: dict[tuple[str | None, ClientOptions], PlaygroundClient] = {}
_LOCK = threading.Lock()


class AdapterFields(Protocol):
    """The fields both adapters have for the client (the model class defines them)."""

    @property
    def wire_format(self) -> str:
        """``auto``, ``agents`` or ``http``."""

    @property
    def timeout(self) -> float:
        """Seconds for each wait."""

    @property
    def max_retries(self) -> int:
        """Retries before anything arrived."""

    @property
    def client_options(self) -> dict[str, Any]:
        """Every other client option."""


def adapter_keywords(values: Any, model_fields: Mapping[str, Any], *, owner: str) -> Any:  # noqa: ANN401 (pydantic's raw input)
    """An adapter's keyword arguments with client options moved into ``client_options``.

    ``model_fields`` are the adapter's pydantic fields (their names and aliases are its own
    keywords). Input that is not a dict of keywords is returned as it is. The former ``dialect``
    keyword
    becomes ``wire_format`` (with a ``DeprecationWarning``), and client options found in
    ``model_kwargs`` (where the LangChain adapter kept them before) move too.

    Raises:
        ValueError: a keyword that is neither a field nor a client option; the message offers
            the closest of both, or says that no API key is needed.
    """
    if not isinstance(values, dict):
        return values
    fields = set(model_fields) | {f.alias for f in model_fields.values() if f.alias}
    values = dict(values)
    client_options = dict(values.get("client_options") or {})
    if "dialect" in values:
        former = wire_format_from_dialect(values.pop("dialect"), owner)
        values.setdefault("wire_format", former)
    model_kwargs = values.get("model_kwargs")
    if isinstance(model_kwargs, dict) and set(model_kwargs) & set(ClientOptions.names()):
        moved = {k: v for k, v in model_kwargs.items() if k in ClientOptions.names()}
        warnings.warn(
            f"{owner}: client options ({', '.join(sorted(moved))}) now go in `client_options`;"
            " `model_kwargs` holds chat options",
            DeprecationWarning,
            stacklevel=4,
        )
        client_options.update(moved)
        values["model_kwargs"] = {k: v for k, v in model_kwargs.items() if k not in moved}
    unknown = [key for key in values if key not in fields]
    wrong = sorted(key for key in unknown if key not in ClientOptions.names())
    if wrong:
        msg = unknown_options_message(
            owner,
            wrong,
            fields | set(ClientOptions.names()),
            every=f"Every option: help({owner}), and the client's: help(ClientOptions).",
        )
        raise ValueError(msg)
    for key in unknown:
        client_options[key] = values.pop(key)
    if client_options:
        values["client_options"] = client_options
    return values


def adapter_client_options(
    model: AdapterFields, *, proxy: str | None, model_kwargs: Mapping[str, Any] | None = None
) -> ClientOptions:
    """The client options of an adapter's ``model``: its fields, then its ``client_options``.

    Raises:
        ValueError: an unknown client option, one set both ways, or a value out of range; the
            message says which (pydantic reports it as the model's validation error).
    """
    owner = type(model).__name__
    fields = {
        "wire_format": model.wire_format,
        "timeout": model.timeout,
        "max_retries": model.max_retries,
        "proxy": proxy,
    }
    client_options = model.client_options
    both = sorted(set(fields) & set(client_options))
    if both:
        msg = f"{owner}: set {', '.join(both)} as a field of the model, not in client_options"
        raise ValueError(msg)
    unknown_chat = sorted(set(model_kwargs or {}) - set(CHAT_OPTION_NAMES))
    if unknown_chat:
        msg = (
            f"{owner}: model_kwargs holds chat options ({', '.join(CHAT_OPTION_NAMES)}),"
            f" not {', '.join(map(repr, unknown_chat))}"
        )
        raise ValueError(msg)
    try:
        return ClientOptions.from_keywords({**fields, **client_options}, owner=owner)
    except TypeError as exc:
        raise ValueError(str(exc)) from None


def shared_client(base_url: str | None, options: ClientOptions) -> PlaygroundClient:
    """The client for ``base_url`` and ``options``, made on first use."""
    from langchain_cloudflare_playground.client.playground import (  # noqa: PLC0415
        PlaygroundClient,  # the network layers load with the first client, not the import
    )

    key = (base_url, options)
    try:
        hash(key)
    except TypeError:  # an unhashable option (a transport object, say): a client of its own
        return PlaygroundClient(base_url, **options.changed())
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is None:
            client = _CLIENTS[key] = PlaygroundClient(base_url, **options.changed())
        return client

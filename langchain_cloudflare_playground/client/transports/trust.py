"""Which server certificates a transport trusts: the one reading of the ``verify`` option.

Every transport trusts the same certificates. ``verify=True`` means the system's trust store, or
the bundle named by ``$SSL_CERT_FILE`` when it is set (OpenSSL, curl and httpx read it; curl_cffi
alone would use its own bundled list, so it is told). A path means the CA certificates in that
PEM file. ``False`` checks nothing.
"""

from __future__ import annotations

import ssl

from langchain_cloudflare_playground.client.options import ca_bundle_from_env

__all__ = ["ca_bundle", "ssl_context"]


def ca_bundle(*, verify: bool | str) -> str | None:
    """The PEM file of trusted CAs that ``verify`` names, or ``None`` for the system's store."""
    if isinstance(verify, str):
        return verify
    return ca_bundle_from_env() if verify else None


def ssl_context(*, verify: bool | str) -> ssl.SSLContext:
    """An SSL context that trusts what ``verify`` says."""
    if verify is False:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=ca_bundle(verify=verify))

"""What a browser page trusts: the client's ``verify`` option as Chromium command-line flags.

Chromium does not read ``$SSL_CERT_FILE`` or a PEM bundle. It does take
``--ignore-certificate-errors-spki-list``: the base64 SHA-256 hashes of SubjectPublicKeyInfos
(honoured only with ``--user-data-dir``, which the launcher always passes). Tried on Chromium
156: a listed hash is matched against every certificate the server *presents*, so a CA's hash
is honoured only when the server sends that CA in its chain (leaf, then CA), as a re-signing
proxy that sends its CA does; a CA the server leaves out is not found. A matched chain is
accepted whatever else is wrong with it (the host name too), so the system's own CAs are left
out when ``$SSL_CERT_FILE`` names a bundle that holds them (Chromium trusts those by itself, with
every check): only the CAs added for this client are listed. ``verify=False`` is
``--ignore-certificate-errors``.

The hashes are read from the certificates' DER with a few lines of parsing, so that the
``browser`` extra needs nothing beyond nodriver.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
import ssl
from pathlib import Path

from langchain_cloudflare_playground.client.transports.trust import ca_bundle

__all__ = ["chromium_trust_args", "pem_certificates", "spki_sha256"]

_PEM_CERTIFICATE = re.compile(
    r"-----BEGIN CERTIFICATE-----\s*(.+?)\s*-----END CERTIFICATE-----", re.DOTALL
)
_SEQUENCE = 0x30
_EXPLICIT_VERSION = 0xA0  # tbsCertificate's [0] version, absent in version 1 certificates
# tbsCertificate: [version], serialNumber, signature, issuer, validity, subject, then the key.
_FIELDS_BEFORE_KEY = 5


def chromium_trust_args(*, verify: bool | str) -> list[str]:
    """The flags that make Chromium accept what ``verify`` accepts (see the module's notes).

    Raises:
        ValueError: the bundle ``verify`` names cannot be read or holds a broken certificate.
    """
    if verify is False:
        return ["--ignore-certificate-errors"]
    bundle = ca_bundle(verify=verify)
    if bundle is None:
        return []  # the system's store: Chromium has its own
    try:
        text = Path(bundle).read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        msg = f"cannot read the CA bundle {bundle!r} for the browser ({exc.strerror or exc})"
        raise ValueError(msg) from None
    certificates = pem_certificates(text, source=bundle)
    if not certificates:
        msg = f"the CA bundle {bundle!r} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
        raise ValueError(msg)
    system = _system_certificates()
    hashes = dict.fromkeys(spki_sha256(der) for der in certificates if der not in system)
    if not hashes:
        return []  # nothing beyond the system's store
    return [f"--ignore-certificate-errors-spki-list={','.join(hashes)}"]


def _system_certificates() -> frozenset[bytes]:
    """The certificates of OpenSSL's own bundle (``$SSL_CERT_FILE`` aside), if it has one."""
    path = ssl.get_default_verify_paths().openssl_cafile
    try:
        return frozenset(pem_certificates(Path(path).read_text(encoding="ascii", errors="replace")))
    except (OSError, ValueError):
        return frozenset()


def pem_certificates(text: str, *, source: str = "the bundle") -> list[bytes]:
    """The DER of every ``CERTIFICATE`` block in PEM ``text``.

    Raises:
        ValueError: a block is not base64.
    """
    certificates = []
    for number, match in enumerate(_PEM_CERTIFICATE.finditer(text), start=1):
        try:
            certificates.append(base64.b64decode("".join(match.group(1).split()), validate=True))
        except binascii.Error:
            msg = f"certificate {number} in {source} is not valid base64"
            raise ValueError(msg) from None
    return certificates


def spki_sha256(certificate: bytes) -> str:
    """The base64 SHA-256 of a DER certificate's SubjectPublicKeyInfo, as Chromium takes it.

    Raises:
        ValueError: the bytes are not an X.509 certificate.
    """
    tag, start, end = _element(certificate, 0)
    if tag != _SEQUENCE or end != len(certificate):
        msg = "not a DER certificate (no outer SEQUENCE)"
        raise ValueError(msg)
    tag, at, tbs_end = _element(certificate, start)  # tbsCertificate
    if tag != _SEQUENCE:
        msg = "not a DER certificate (no tbsCertificate SEQUENCE)"
        raise ValueError(msg)
    tag, _, after = _element(certificate, at)
    if tag == _EXPLICIT_VERSION:
        at = after
    for _ in range(_FIELDS_BEFORE_KEY):
        at = _element(certificate, at)[2]
    tag, _, key_end = _element(certificate, at)
    if tag != _SEQUENCE or key_end > tbs_end:
        msg = "not a DER certificate (no SubjectPublicKeyInfo SEQUENCE)"
        raise ValueError(msg)
    return base64.b64encode(hashlib.sha256(certificate[at:key_end]).digest()).decode()


def _element(der: bytes, at: int) -> tuple[int, int, int]:
    """The tag, content start and end of the DER element at ``at``."""
    if at + 2 > len(der):
        msg = "not a DER certificate (cut short)"
        raise ValueError(msg)
    tag, length = der[at], der[at + 1]
    at += 2
    if length & 0x80:
        size = length & 0x7F
        if not 0 < size <= 4 or at + size > len(der):  # noqa: PLR2004 (lengths under 4 GiB)
            msg = "not a DER certificate (bad length)"
            raise ValueError(msg)
        length = int.from_bytes(der[at : at + size], "big")
        at += size
    if at + length > len(der):
        msg = "not a DER certificate (an element runs past the end)"
        raise ValueError(msg)
    return tag, at, at + length

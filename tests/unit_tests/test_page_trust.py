"""The browser page's trust flags: SPKI hashes read from PEM bundles without `cryptography`.

`cryptography` (a test dependency only) is the reference the hand-written DER reading is
checked against, on certificates of every kind in a real CA bundle.
"""

from __future__ import annotations

import base64
import hashlib
import ssl
from pathlib import Path

import certifi
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from langchain_cloudflare_playground.client.browser.page_trust import (
    chromium_trust_args,
    pem_certificates,
    spki_sha256,
)
from tests.helpers import IN_CI
from tests.tls_edge import TestCertificates

FLAG = "--ignore-certificate-errors-spki-list="


def reference_hash(pem: bytes) -> str:
    key = x509.load_pem_x509_certificate(pem).public_key()
    der = key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


def pem_blocks(text: str) -> list[bytes]:
    end = "-----END CERTIFICATE-----"
    return [(block + end).strip().encode() for block in text.split(end) if "BEGIN" in block]


@pytest.fixture
def certificates(tmp_path):
    return TestCertificates.create(tmp_path / "certs")


# A real root with a serial number of zero, which cryptography warns about and still reads.
@pytest.mark.filterwarnings("ignore:Parsed a serial number which wasn't positive")
def test_every_certificate_of_a_real_bundle_hashes_as_cryptography_says():
    text = Path(certifi.where()).read_text()
    blocks = pem_blocks(text)
    assert len(blocks) > 100  # RSA and EC roots, of several sizes and ages
    ders = pem_certificates(text)
    assert [spki_sha256(der) for der in ders] == [reference_hash(pem) for pem in blocks]


def test_the_test_ca_and_server_certificate_hash_as_cryptography_says(certificates):
    chain = certificates.cert_path.read_text()
    leaf, ca = pem_certificates(chain)
    assert spki_sha256(leaf) == certificates.spki_sha256 == reference_hash(pem_blocks(chain)[0])
    assert spki_sha256(ca) == reference_hash(certificates.ca_path.read_bytes())


def test_verify_false_ignores_every_certificate_error():
    assert chromium_trust_args(verify=False) == ["--ignore-certificate-errors"]


def test_a_bundle_path_lists_its_ca_and_true_follows_ssl_cert_file(certificates, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE", raising=False)
    expected = [FLAG + reference_hash(certificates.ca_path.read_bytes())]
    assert chromium_trust_args(verify=str(certificates.ca_path)) == expected
    assert chromium_trust_args(verify=True) == []  # the system's store: Chromium has its own
    monkeypatch.setenv("SSL_CERT_FILE", str(certificates.ca_path))
    assert chromium_trust_args(verify=True) == expected


def test_the_systems_own_cas_in_a_bundle_are_left_to_chromium(certificates, tmp_path):
    system = Path(ssl.get_default_verify_paths().openssl_cafile)
    if not system.is_file():
        message = f"no system CA bundle at {system} (the ca-certificates package)"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    one_public_root = pem_blocks(system.read_text())[0].decode()
    bundle = tmp_path / "corporate.pem"
    bundle.write_text(one_public_root + "\n" + certificates.ca_path.read_text())
    # Listed, a public root would let any chain that presents it pass, for any host name.
    assert chromium_trust_args(verify=str(bundle)) == [
        FLAG + reference_hash(certificates.ca_path.read_bytes())
    ]
    assert chromium_trust_args(verify=str(system)) == []


def test_several_cas_are_listed_once_each(certificates, tmp_path):
    other = TestCertificates.create(tmp_path / "other")
    bundle = tmp_path / "two.pem"
    bundle.write_text(
        certificates.ca_path.read_text() + other.ca_path.read_text() + other.ca_path.read_text()
    )
    hashes = chromium_trust_args(verify=str(bundle))[0].removeprefix(FLAG).split(",")
    assert hashes == [
        reference_hash(certificates.ca_path.read_bytes()),
        reference_hash(other.ca_path.read_bytes()),
    ]


@pytest.mark.parametrize(
    "der",
    [b"", b"\x30", b"\x30\x05\x30\x03", b"\x04\x02ab", b"\x30\x84\xff\xff\xff\xff"],
    ids=["empty", "cut-short", "short-tbs", "not-a-sequence", "length-past-end"],
)
def test_bytes_that_are_not_a_certificate_are_a_clear_error(der):
    with pytest.raises(ValueError, match="not a DER certificate"):
        spki_sha256(der)


def test_a_broken_pem_block_or_an_unreadable_bundle_is_a_clear_error(tmp_path):
    bundle = tmp_path / "broken.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n")
    with pytest.raises(ValueError, match=r"certificate 1 in .*broken\.pem is not valid base64"):
        chromium_trust_args(verify=str(bundle))
    with pytest.raises(ValueError, match="cannot read the CA bundle"):
        chromium_trust_args(verify=str(tmp_path / "missing.pem"))

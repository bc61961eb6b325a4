"""A test edge that judges the TLS handshake, as Cloudflare's edge does, in front of a backend.

Cloudflare's bot protection tells a browser from a script by its TLS ClientHello before any HTTP
is spoken: Chrome's BoringSSL puts GREASE values (RFC 8701: two equal bytes whose low nibble is
``0xa``, such as ``0x0a0a`` or ``0xdada``) among its cipher suites and among its extensions;
OpenSSL (Python, aiohttp) never does. ``TlsEdge`` is that judge on loopback::

    certificates = TestCertificates.create(tmp_path)
    with ReferenceServer() as backend, TlsEdge(backend.port, certificates) as edge:
        ...  # clients talk to edge.url (https://127.0.0.1:PORT), trusting certificates.ca_path

How a connection goes:

1. The edge accepts TCP and reads the raw ClientHello (``ClientHelloReader``: record header,
   handshake header, version, random, session id, cipher suites, compression methods,
   extensions; split across any number of TCP reads or TLS records). Garbage, or nothing
   within the deadline, closes the connection.
2. ``judge`` gives the verdict, ``"browser"`` or ``"not-browser"``. It is the only place that
   decides; the edge records every verdict in ``edge.seen`` (with the raw ClientHello bytes).
3. The edge completes TLS itself (``ssl.SSLObject`` over ``MemoryBIO``, fed the bytes already
   read; ALPN offers only ``http/1.1``), so every client talks HTTP/1.1 to it.
4. A browser's connection is relayed to the backend byte for byte, both ways, until either side
   ends: the backend sees exactly what the browser sent (WebSocket upgrades included). A
   refused connection never reaches the backend: the edge reads the first request's head (and
   its ``Content-Length`` body) and answers it itself, with ``Connection: close``: a WebSocket
   upgrade gets a 403, any other request the challenge interstitial the reference server's
   gate serves (403, ``cf-mitigated: challenge``). The verdict belongs to the connection, so
   refusing its first request and closing is all a refused client can ever see. No header
   carries the verdict to the backend: a backend that judged it would be a second place.
   An edge made with ``judging=False`` still reads and records every verdict but relays every
   connection: the same TLS termination and relay for clients the judging edge refuses (the
   benchmarks measure aiohttp through it against the Chrome-like clients through a judging one).

The edge runs its own event loop in a thread (as the reference server does), so synchronous
tests, asynchronous tests and subprocesses (Chromium) can all talk to it; ``stop()`` (or
leaving ``with``) closes the listener and every connection and joins the thread.

Trust: ``TestCertificates`` makes a CA and a server certificate for ``127.0.0.1`` and
``localhost`` (ECDSA P-256, valid for a day) in a folder the test owns. The edge presents the
chain, its certificate then the CA, as real servers do. Python clients take ``ca_path``
(``ssl.create_default_context(cafile=...)``; curl_cffi ``verify=...``); Chromium takes
``--ignore-certificate-errors-spki-list=<hashes>`` (base64 SHA-256 of public keys), which it
honours only together with ``--user-data-dir``: the server certificate's (``spki_sha256``), or
the CA's, which Chromium finds only because the edge presents it (the client passes the CA's:
``client/browser/page_trust.py``, and ``test_browser_trust.py`` shows a leaf-only edge refused).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import hashlib
import ipaddress
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.loop_thread import LoopThreadServer
from tests.reference_server import INTERSTITIAL

if TYPE_CHECKING:
    import threading

Verdict = Literal["browser", "not-browser"]

HELLO_DEADLINE = 10.0  # seconds a client has to send its whole ClientHello
HANDSHAKE_DEADLINE = 10.0  # seconds to finish the TLS handshake after it
REQUEST_DEADLINE = 10.0  # seconds a refused client has to send its first request
MAX_HELLO = 64 * 1024  # a ClientHello longer than this is garbage
MAX_REQUEST_HEAD = 64 * 1024
MAX_REFUSED_BODY = 1024 * 1024
_READ = 65536

_HANDSHAKE_RECORD = 22
# A TLS alert record: type 21, version 3.3, length 2, fatal (2) handshake_failure (40).
HANDSHAKE_FAILURE_ALERT = bytes([21, 3, 3, 0, 2, 2, 40])
_CLIENT_HELLO = 1
_MAX_RECORD = 2**14 + 256  # a plaintext record's limit, with room for what clients pad


# -- the ClientHello ----------------------------------------------------------------------


class ClientHelloError(ValueError):
    """The bytes are not the start of a TLS ClientHello."""


def is_grease(value: int) -> bool:
    """Whether a 16-bit code point is a GREASE value (RFC 8701): ``0x?a?a`` with equal bytes."""
    high, low = value >> 8, value & 0xFF
    return high == low and low & 0x0F == 0x0A


@dataclass(frozen=True)
class ClientHello:
    """The fields of a ClientHello that the edge reads."""

    legacy_version: int
    random: bytes
    session_id: bytes
    cipher_suites: tuple[int, ...]
    compression_methods: bytes
    extensions: tuple[tuple[int, bytes], ...]

    @property
    def extension_types(self) -> tuple[int, ...]:
        """The extension types, in the order sent."""
        return tuple(kind for kind, _ in self.extensions)

    @property
    def grease_cipher_suites(self) -> tuple[int, ...]:
        """The GREASE values among the cipher suites."""
        return tuple(suite for suite in self.cipher_suites if is_grease(suite))

    @property
    def grease_extensions(self) -> tuple[int, ...]:
        """The GREASE values among the extension types."""
        return tuple(kind for kind in self.extension_types if is_grease(kind))


def judge(hello: ClientHello) -> Verdict:
    """The edge's verdict: a browser puts GREASE among its cipher suites and its extensions.

    ALPS (extension 17513/17613) is not required: Chrome sends it only with an HTTP/2 offer,
    and its WebSocket handshakes offer only HTTP/1.1.
    """
    if hello.grease_cipher_suites and hello.grease_extensions:
        return "browser"
    return "not-browser"


class _Cursor:
    """Reads big-endian fields from a buffer; running short or over is a ``ClientHelloError``."""

    def __init__(self, data: bytes, what: str) -> None:
        self._data = data
        self._at = 0
        self._what = what

    def take(self, size: int, field_name: str) -> bytes:
        if self._at + size > len(self._data):
            raise ClientHelloError(f"{self._what}: {field_name} runs past the end")
        chunk = self._data[self._at : self._at + size]
        self._at += size
        return chunk

    def number(self, size: int, field_name: str) -> int:
        return int.from_bytes(self.take(size, field_name), "big")

    def vector(self, length_size: int, field_name: str) -> bytes:
        return self.take(self.number(length_size, f"{field_name} length"), field_name)

    @property
    def done(self) -> bool:
        return self._at == len(self._data)


def parse_client_hello_body(body: bytes) -> ClientHello:
    """Parse a ClientHello handshake message body (after the 4-byte handshake header).

    Raises:
        ClientHelloError: the body is not a well-formed ClientHello.
    """
    cursor = _Cursor(body, "ClientHello")
    version = cursor.number(2, "version")
    if version >> 8 != 3:
        raise ClientHelloError(f"ClientHello: version {version:#06x} is not TLS")
    random = cursor.take(32, "random")
    session_id = cursor.vector(1, "session id")
    if len(session_id) > 32:
        raise ClientHelloError("ClientHello: session id longer than 32 bytes")
    suites = cursor.vector(2, "cipher suites")
    if not suites or len(suites) % 2:
        raise ClientHelloError("ClientHello: cipher suites empty or of odd length")
    compression = cursor.vector(1, "compression methods")
    if not compression:
        raise ClientHelloError("ClientHello: no compression method")
    extensions: list[tuple[int, bytes]] = []
    if not cursor.done:
        block = _Cursor(cursor.vector(2, "extensions"), "extensions")
        while not block.done:
            kind = block.number(2, "extension type")
            extensions.append((kind, block.vector(2, f"extension {kind}")))
    if not cursor.done:
        raise ClientHelloError("ClientHello: bytes after the extensions")
    kinds = [kind for kind, _ in extensions]
    if len(set(kinds)) != len(kinds):
        raise ClientHelloError("ClientHello: an extension sent twice")
    return ClientHello(
        legacy_version=version,
        random=random,
        session_id=session_id,
        cipher_suites=tuple(
            int.from_bytes(suites[i : i + 2], "big") for i in range(0, len(suites), 2)
        ),
        compression_methods=compression,
        extensions=tuple(extensions),
    )


class ClientHelloReader:
    """Reads a ClientHello from TCP bytes fed in any pieces.

    ``feed`` returns ``None`` until the whole ClientHello has arrived (it may span several TLS
    records), then the parsed ``ClientHello``; ``raw`` holds every byte fed, for the TLS
    handshake that follows.
    """

    def __init__(self) -> None:
        """Start with nothing read."""
        self.raw = b""
        self._handshake = b""  # the handshake bytes of the complete records so far
        self._records_end = 0  # where the complete records end in raw

    def feed(self, data: bytes) -> ClientHello | None:
        """Add bytes; the ClientHello once complete, else ``None``.

        Raises:
            ClientHelloError: the bytes are not a ClientHello (or it grows past ``MAX_HELLO``).
        """
        self.raw += data
        while len(self.raw) - self._records_end >= 5:
            header = self.raw[self._records_end : self._records_end + 5]
            if header[0] != _HANDSHAKE_RECORD:
                raise ClientHelloError(f"record type {header[0]} is not a handshake")
            if header[1] != 3:
                raise ClientHelloError(f"record version {header[1]}.{header[2]} is not TLS")
            length = int.from_bytes(header[3:5], "big")
            if not 0 < length <= _MAX_RECORD:
                raise ClientHelloError(f"record length {length} out of range")
            end = self._records_end + 5 + length
            if len(self.raw) < end:
                break
            self._handshake += self.raw[self._records_end + 5 : end]
            self._records_end = end
        if self._handshake:
            if self._handshake[0] != _CLIENT_HELLO:
                raise ClientHelloError(f"handshake type {self._handshake[0]} is not ClientHello")
            if len(self._handshake) >= 4:
                size = int.from_bytes(self._handshake[1:4], "big")
                if size > MAX_HELLO:
                    raise ClientHelloError(f"ClientHello of {size} bytes")
                if len(self._handshake) >= 4 + size:
                    return parse_client_hello_body(self._handshake[4 : 4 + size])
        if len(self.raw) > MAX_HELLO + 5 * (MAX_HELLO // 2**14 + 2):
            raise ClientHelloError("no complete ClientHello in the bytes allowed")
        return None


def parse_client_hello(data: bytes) -> ClientHello:
    """Parse a ClientHello from the bytes a client sent first (one piece).

    Raises:
        ClientHelloError: the bytes are not a whole ClientHello.
    """
    hello = ClientHelloReader().feed(data)
    if hello is None:
        raise ClientHelloError("the ClientHello is incomplete")
    return hello


# -- certificates -------------------------------------------------------------------------


@dataclass(frozen=True)
class TestCertificates:
    """A CA and a server certificate for 127.0.0.1 and localhost, as files in a folder."""

    ca_path: Path
    cert_path: Path
    key_path: Path
    spki_sha256: str  # base64 SHA-256 of the server's SubjectPublicKeyInfo (Chromium's flag)

    __test__ = False  # not a pytest test class

    @classmethod
    def create(cls, folder: str | Path) -> TestCertificates:
        """Make fresh keys and certificates in ``folder`` (which the caller owns)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        now = dt.datetime.now(dt.UTC)
        start, end = now - dt.timedelta(minutes=5), now + dt.timedelta(days=1)
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cf-playground test CA")])
        ca_ski = x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key())
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(signing=True), critical=True)
            .add_extension(ca_ski, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        key = ec.generate_private_key(ec.SECP256R1())
        names = [
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.IPv4Address("127.0.0.1")),
        ]
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(signing=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(x509.SubjectAlternativeName(names), critical=False)
            .add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
                critical=False,
            )
            .sign(ca_key, hashes.SHA256())
        )
        ca_path, cert_path, key_path = folder / "ca.pem", folder / "server.pem", folder / "key.pem"
        ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        # The chain: the server certificate, then its CA.
        cert_path.write_bytes(
            cert.public_bytes(serialization.Encoding.PEM)
            + ca.public_bytes(serialization.Encoding.PEM)
        )
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key_path.chmod(0o600)
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        digest = base64.b64encode(hashlib.sha256(spki).digest()).decode()
        return cls(ca_path, cert_path, key_path, digest)

    def client_context(self) -> ssl.SSLContext:
        """An OpenSSL client context that trusts the test CA (for aiohttp and the like)."""
        return ssl.create_default_context(cafile=str(self.ca_path))

    def server_context(self) -> ssl.SSLContext:
        """The edge's server context: the test certificate, HTTP/1.1 only."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_path, self.key_path)
        context.set_alpn_protocols(["http/1.1"])
        return context


def _key_usage(*, signing: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not signing,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=signing,
        crl_sign=signing,
        encipher_only=False,
        decipher_only=False,
    )


# -- TLS over the bytes already read ------------------------------------------------------


class _TlsStream:
    """Server-side TLS on an asyncio stream pair, through an ``SSLObject`` over memory BIOs."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        context: ssl.SSLContext,
        first_bytes: bytes,
    ) -> None:
        self._reader = reader
        self._writer = writer
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._incoming.write(first_bytes)
        self._tls = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._lock = asyncio.Lock()

    async def _flush(self) -> None:
        async with self._lock:
            pending = self._outgoing.read()
            if pending:
                self._writer.write(pending)
                await self._writer.drain()

    async def _fill(self) -> bool:
        data = await self._reader.read(_READ)
        if not data:
            self._incoming.write_eof()
            return False
        self._incoming.write(data)
        return True

    async def handshake(self) -> None:
        while True:
            try:
                self._tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush()
                if not await self._fill():
                    raise ConnectionResetError("the client left during the handshake") from None
        await self._flush()

    async def read(self) -> bytes:
        """The next plaintext; ``b""`` once the client has ended TLS or the connection."""
        while True:
            try:
                data = self._tls.read(_READ)
            except ssl.SSLWantReadError:
                await self._flush()  # session tickets, key updates
                if not await self._fill():
                    return b""
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                return b""
            await self._flush()
            return data

    async def write(self, data: bytes) -> None:
        self._tls.write(data)
        await self._flush()

    async def close_notify(self) -> None:
        with contextlib.suppress(ssl.SSLError):
            self._tls.unwrap()
        with contextlib.suppress(ConnectionError):
            await self._flush()


# -- the edge -----------------------------------------------------------------------------


@dataclass
class Seen:
    """One connection as the edge saw it."""

    raw: bytes  # the bytes read before the verdict (the ClientHello, maybe more)
    hello: ClientHello | None
    verdict: Verdict | None  # None: no ClientHello (garbage, or the client left)
    error: str | None = None
    requests: list[bytes] = field(default_factory=list)  # request heads the edge answered


class TlsEdge(LoopThreadServer):
    """A TLS front on a free loopback port that judges ClientHellos, before ``backend_port``."""

    name = "the TLS edge"
    stop_seconds = 15.0

    def __init__(
        self,
        backend_port: int,
        certificates: TestCertificates,
        *,
        refusal: Literal["http", "handshake"] = "http",
        judging: bool = True,
    ) -> None:
        """Prepare an edge for the HTTP server on ``127.0.0.1:backend_port``.

        ``refusal`` is how a handshake that is not a browser's is refused: ``"http"`` completes
        TLS and answers the first request with a 403 (an upgrade) or the challenge page;
        ``"handshake"`` ends the handshake with a fatal ``handshake_failure`` alert instead.
        ``judging=False`` refuses nothing: every connection is relayed, its verdict still
        recorded in ``seen``.
        """
        super().__init__()
        self.backend_port = backend_port
        self.refusal = refusal
        self.judging = judging
        self.certificates = certificates
        self.port: int | None = None
        self.seen: list[Seen] = []
        self._context = certificates.server_context()
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def url(self) -> str:
        """The base URL to give a client."""
        return f"https://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        """The base URL of WebSockets through the edge."""
        return f"wss://127.0.0.1:{self.port}"

    async def _main(self, started: threading.Event) -> None:
        self._stopping = asyncio.Event()
        try:
            server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        except OSError as exc:
            self._startup_error = exc
            started.set()
            return
        self.port = int(server.sockets[0].getsockname()[1])
        started.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for _ in range(3):  # connections accepted before the close get their callbacks
                await asyncio.sleep(0)
            for task in self._tasks:
                task.cancel()
            if self._tasks:
                await asyncio.wait(set(self._tasks), timeout=10)
            # A task cancelled before its first step never ran its own cleanup.
            for writer in self._writers:
                writer.close()
            for writer in list(self._writers):
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(writer.wait_closed(), 5)
            await server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Take a connection: its writer and task are known at once, so stop() reaches both."""
        self._writers.add(writer)
        task = asyncio.get_running_loop().create_task(self._handle(reader, writer))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._connection(reader, writer)
        except (ConnectionError, ssl.SSLError, TimeoutError):
            pass  # the client left or broke TLS: its connection ends, nothing else does
        except asyncio.CancelledError:
            pass  # stop() ends every connection; the task ends quietly, not as an error
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 5)
            self._writers.discard(writer)

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        hello_reader = ClientHelloReader()
        seen = Seen(raw=b"", hello=None, verdict=None)
        self.seen.append(seen)
        try:
            hello = await asyncio.wait_for(self._read_hello(reader, hello_reader), HELLO_DEADLINE)
        except (ClientHelloError, ConnectionError, TimeoutError) as exc:
            seen.raw, seen.error = hello_reader.raw, str(exc) or type(exc).__name__
            return
        seen.raw, seen.hello = hello_reader.raw, hello
        seen.verdict = judge(hello)
        admitted = seen.verdict == "browser" or not self.judging
        if not admitted and self.refusal == "handshake":
            writer.write(HANDSHAKE_FAILURE_ALERT)
            await writer.drain()
            return
        tls = _TlsStream(reader, writer, self._context, hello_reader.raw)
        await asyncio.wait_for(tls.handshake(), HANDSHAKE_DEADLINE)
        if admitted:
            await self._relay(tls)
        else:
            await self._refuse(tls, seen)

    @staticmethod
    async def _read_hello(
        reader: asyncio.StreamReader, hello_reader: ClientHelloReader
    ) -> ClientHello:
        while True:
            data = await reader.read(_READ)
            if not data:
                raise ConnectionResetError("the client left before its ClientHello was complete")
            hello = hello_reader.feed(data)
            if hello is not None:
                return hello

    async def _relay(self, tls: _TlsStream) -> None:
        """Pipe the plaintext to the backend and back until either side ends."""
        backend_reader, backend_writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", self.backend_port), 10
        )

        async def upstream() -> None:
            while data := await tls.read():
                backend_writer.write(data)
                await backend_writer.drain()
            if backend_writer.can_write_eof():
                backend_writer.write_eof()  # the client is done sending; the reply may go on

        async def downstream() -> None:
            while data := await backend_reader.read(_READ):
                await tls.write(data)
            await tls.close_notify()

        up = asyncio.create_task(upstream())
        try:
            await downstream()
        finally:
            up.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError, ssl.SSLError):
                await up
            backend_writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(backend_writer.wait_closed(), 5)

    async def _refuse(self, tls: _TlsStream, seen: Seen) -> None:
        """Answer the first request as the edge refuses it, then close."""
        buffered = b""
        while b"\r\n\r\n" not in buffered:
            data = await asyncio.wait_for(tls.read(), REQUEST_DEADLINE)
            if not data or len(buffered) > MAX_REQUEST_HEAD:
                return
            buffered += data
        head, _, body = buffered.partition(b"\r\n\r\n")
        seen.requests.append(head)
        headers = _headers(head)
        declared = headers.get("content-length", "0")
        length = min(int(declared), MAX_REFUSED_BODY) if declared.isdigit() else 0
        while len(body) < length:  # read the body, so closing resets nothing unread
            data = await asyncio.wait_for(tls.read(), REQUEST_DEADLINE)
            if not data:
                break
            body += data
        if headers.get("upgrade", "").lower() == "websocket":
            status, content_type, text = (
                "403 Forbidden",
                "text/plain; charset=utf-8",
                "The test edge refused this WebSocket: its TLS handshake is not a browser's.\n",
            )
        else:
            status, content_type, text = "403 Forbidden", "text/html; charset=utf-8", INTERSTITIAL
        payload = text.encode()
        response = (
            f"HTTP/1.1 {status}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {len(payload)}\r\n"
            "cf-mitigated: challenge\r\n"
            "Connection: close\r\n\r\n"
        ).encode() + payload
        await tls.write(response)
        await tls.close_notify()


def _headers(head: bytes) -> dict[str, str]:
    """The header fields of a request head, names lowercased (the last of a repeated one)."""
    fields: dict[str, str] = {}
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    return fields

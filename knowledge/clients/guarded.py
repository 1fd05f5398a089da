"""The guarded transport and bounded decoding under :class:`~knowledge.clients.http.SafeHttpClient`.

Connections go to exactly the address that passed the SSRF check (:class:`_GuardedBackend`),
every socket operation gets at most the time left of the fetch's deadline
(:class:`_DeadlineStream`), and compressed bodies are decoded layer by layer with a
bounded output per step (:class:`BodyDecoder`).
"""

from __future__ import annotations

import contextvars
import logging
import time
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

import httpcore
import httpx

from knowledge.clients.urlsafety import resolve_checked

log = logging.getLogger(__name__)


RAW_CHUNK = 64 * 1024


_DECODE_CHUNK = 64 * 1024


_GZIP_MAGIC = b"\x1f\x8b"


# The monotonic time by which the current fetch (in this thread) must end.
class FetchError(Exception):
    """A document could not be fetched; ``str(exc)`` is a one-line reason."""


def one_line(exc: BaseException) -> str:
    """An exception as one line of text (its class name when it has no message)."""
    text = str(exc) or exc.__class__.__name__
    return " ".join(text.split())


DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "feed_fetch_deadline", default=None
)


def time_left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the current fetch's total deadline."""
    deadline = DEADLINE.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("total time limit reached")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every operation ends by the fetch's total deadline.

    httpx's timeouts apply to each socket operation, so a server sending one
    byte per second never trips a read timeout; bounding each operation by
    the time left bounds the whole response.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = time_left(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, left))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _GuardedBackend(httpcore.SyncBackend):
    """Connects only to addresses that passed the SSRF check, within the deadline.

    The host is resolved once per connection by
    :func:`knowledge.clients.urlsafety.resolve_checked`, and the socket goes to one of
    exactly those addresses (an IP literal), so a DNS answer that changes
    between the check and the connection cannot reach an internal host. The
    request keeps the host name: httpcore sends it as ``Host`` and as TLS SNI
    and checks the certificate against it.
    """

    def __init__(self, allow_private: bool) -> None:
        self.allow_private = allow_private

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        addresses = resolve_checked(host, port, allow_private=self.allow_private)
        error: Exception | None = None
        for address in addresses:
            left = time_left(timeout, httpcore.ConnectTimeout)
            try:
                stream = super().connect_tcp(
                    str(address), port, left, local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                log.debug("connect to %s (%s) port %d failed: %s", host, address, port, exc)
                error = exc
                continue
            return _DeadlineStream(stream)
        raise error or httpcore.ConnectError(f"no address to connect to for {host}")


class GuardedTransport(httpx.HTTPTransport):
    """httpx's HTTP transport on top of :class:`_GuardedBackend`."""

    def __init__(self, allow_private: bool) -> None:
        super().__init__(trust_env=False)
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        # httpx 0.28 has no argument for httpcore's network backend; the
        # transport keeps its httpcore pool in ``_pool``, so replace that.
        self._pool = httpcore.ConnectionPool(
            ssl_context=httpx.create_ssl_context(trust_env=False),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=_GuardedBackend(allow_private),
        )


class _ZlibLayer:
    """One ``gzip`` or ``deflate`` layer, inflating at most one chunk per step."""

    def __init__(self, encoding: str) -> None:
        self.encoding = encoding
        self._wbits = 16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(self._wbits)
        self._started = False
        self._done = False

    def decode(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        """Decoded pieces of at most ``_DECODE_CHUNK`` bytes for ``pieces``."""
        for data in pieces:
            yield from self._feed(data)

    def _feed(self, data: bytes) -> Iterator[bytes]:
        more = True  # zlib may hold output even when all input is consumed
        while not self._done and (data or more):
            if self._inflater.eof:
                data = self._inflater.unused_data + data
                if not data:
                    return
                data = self._next_member(data)
                continue
            out = self._inflate(data)
            more = len(out) == _DECODE_CHUNK
            data = self._inflater.unconsumed_tail
            if out:
                yield out

    def _inflate(self, data: bytes) -> bytes:
        try:
            out = self._inflater.decompress(data, _DECODE_CHUNK)
        except zlib.error as exc:
            if self.encoding != "deflate" or self._started:
                raise FetchError(f"invalid {self.encoding} body: {one_line(exc)}") from exc
            # "deflate" is often sent raw, without the zlib header.
            self._wbits = -zlib.MAX_WBITS
            self._inflater = zlib.decompressobj(self._wbits)
            out = self._inflater.decompress(data, _DECODE_CHUNK)
        self._started = True
        return out

    def _next_member(self, rest: bytes) -> bytes:
        """Start the next gzip member in ``rest``; ignore anything else after the end."""
        if self.encoding == "gzip" and rest[:2] == _GZIP_MAGIC[: len(rest[:2])]:
            self._inflater = zlib.decompressobj(self._wbits)
            return rest
        log.debug("ignoring %d bytes after the end of the %s body", len(rest), self.encoding)
        self._done = True
        return b""


class BodyDecoder:
    """Decodes a ``Content-Encoding`` chain in bounded steps.

    Args:
        content_encoding: The response's ``Content-Encoding`` header.
        max_layers: Most encodings (other than ``identity``) accepted.

    Raises:
        FetchError: Too many layers or an encoding that cannot be decoded with
            bounded output (``br``, ``zstd``, ...; they are never requested).
    """

    _SUPPORTED = {"gzip": "gzip", "x-gzip": "gzip", "deflate": "deflate"}

    def __init__(self, content_encoding: str, max_layers: int) -> None:
        names = [name.strip().lower() for name in content_encoding.split(",")]
        names = [name for name in names if name and name != "identity"]
        if len(names) > max_layers:
            raise FetchError(
                f"too many content encodings ({len(names)}, at most {max_layers}): "
                f"{one_line(ValueError(content_encoding))}"
            )
        unknown = [name for name in names if name not in self._SUPPORTED]
        if unknown:
            raise FetchError(f"unsupported content encoding {unknown[0]!r}")
        # Encodings are listed in the order applied, so decode from the last.
        self._layers = [_ZlibLayer(self._SUPPORTED[name]) for name in reversed(names)]

    def decode(self, raw: bytes) -> Iterator[bytes]:
        """Decoded pieces (each at most one chunk) of the next raw bytes."""
        pieces: Iterable[bytes] = (raw,)
        for layer in self._layers:
            pieces = layer.decode(pieces)
        return iter(pieces)

    def finish(self) -> Iterator[bytes]:
        """Output still held by the layers once the raw stream has ended."""
        return self.decode(b"")

"""Fetching and parsing RSS/Atom feeds of digest newsletters.

:class:`FeedFetcher` is a small, defensive HTTP client built on a synchronous
``httpx.Client`` (it runs in worker threads): conditional GETs with ETag and
Last-Modified, manual redirects with an SSRF check on every hop
(:func:`knowledge.clients.urlsafety.check_source_url`), a cap on the body size and on
the total time per request. :meth:`FeedFetcher.fetch` never raises for network
or parse problems; it returns a :class:`FetchResult` with ``status="error"``
and a one-line reason. :meth:`FeedFetcher.fetch_text` and
:meth:`FeedFetcher.fetch_json` apply the same safety to plain documents and
raise :class:`FetchError` instead.

Hostile servers are expected. The total time limit covers connect, TLS,
headers and body whatever the server sends (every socket operation gets at
most the time left, see :class:`_DeadlineStream`); the connection goes to
exactly the address that passed the SSRF check (:class:`_GuardedBackend`, so
DNS rebinding cannot reach an internal host); compressed bodies are decoded
here, layer by layer with a bounded output per step, so a gzip bomb stops at
``max_bytes`` of decoded output; at most ``max_entries`` entries are kept per
feed; and every string handed out is valid UTF-8 (:func:`scrub_text`).
"""

from __future__ import annotations

import calendar
import contextvars
import hashlib
import html
import io
import json
import logging
import re
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import httpcore
import httpx
from feedparser.urls import resolve_relative_uris

from knowledge.clients.urlsafety import UnsafeUrl, check_source_url, resolve_checked

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "digestbot/0.1 (+https://github.com/digestbot)"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
JSON_ACCEPT = "application/json, */*;q=0.5"
ACCEPT_ENCODING = "gzip, deflate"
DEFAULT_MAX_ENTRIES = 200
DEFAULT_MAX_ENCODINGS = 2
_RAW_CHUNK = 64 * 1024
_DECODE_CHUNK = 64 * 1024
_GZIP_MAGIC = b"\x1f\x8b"
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_REPLACEMENT_REF = b"&#xFFFD;"
# The monotonic time by which the current fetch (in this thread) must end.
_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "feed_fetch_deadline", default=None
)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_BENIGN_BOZO = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)
_HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")


class FetchError(Exception):
    """A document could not be fetched; ``str(exc)`` is a one-line reason."""


@dataclass
class FeedEntry:
    """One item of a feed, normalised from RSS or Atom.

    Attributes:
        guid: The entry's GUID/Atom id; the canonical link when the feed has
            none (a ``sha1:`` digest of title and date if it has no link either).
        link: Canonical URL of the post (``utm_*`` tracking parameters removed).
        title: Plain-text title.
        published: Publication date as ``YYYY-MM-DD`` (the updated date when
            the feed gives no published date), or ``""``.
        updated: Last update as ``YYYY-MM-DDTHH:MM:SSZ`` (UTC), or ``""``;
            the publication time when the feed gives no update time.
        summary_html: The description/summary HTML (feedparser copies the full
            content here when the feed has no separate summary).
        content_html: Full content HTML (``content:encoded`` / Atom
            ``content``) if the feed carries it, else ``""``.
        author: Author name, or ``""``.
    """

    guid: str
    link: str
    title: str
    published: str = ""
    updated: str = ""
    summary_html: str = ""
    content_html: str = ""
    author: str = ""


@dataclass
class FetchResult:
    """Outcome of one feed poll.

    Attributes:
        status: ``"ok"``, ``"not_modified"`` (HTTP 304) or ``"error"``.
        entries: Parsed entries, deduplicated by GUID (first one wins).
        etag: Validator to send next time. On ``not_modified`` and ``error``
            the one passed in is kept unless the server sent a new one.
        last_modified: Like ``etag``, for ``Last-Modified``.
        error: One-line reason when ``status == "error"``, else ``""``.
        http_status: Final HTTP status, or ``None`` when no response arrived.
        feed_title: The feed's own title, or ``""``.
    """

    status: str
    entries: list[FeedEntry] = field(default_factory=list)
    etag: str | None = None
    last_modified: str | None = None
    error: str = ""
    http_status: int | None = None
    feed_title: str = ""

    @property
    def ok(self) -> bool:
        """True when the feed was fetched and parsed (``status == "ok"``)."""
        return self.status == "ok"


@dataclass
class _Response:
    """A final (non-redirect) response with its body fully read."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


class FeedFetcher:
    """Safe HTTP fetcher for feeds and small JSON/HTML documents.

    Thread-safe: one instance (one connection pool) can serve several worker
    threads at once.

    Args:
        timeout: Seconds allowed per fetch in total: connect, TLS, headers and
            body of every redirect hop, however slowly the server sends them.
        max_bytes: Largest accepted body, counted both as received and as
            decoded (after ``Content-Encoding``); larger ones are aborted.
        max_redirects: Redirect hops followed before giving up.
        allow_private: Allow loopback/private hosts (tests, self-hosting).
        user_agent: ``User-Agent`` header sent with every request.
        transport: Optional httpx transport (e.g. ``httpx.MockTransport``).
            Without one, connections are pinned to checked addresses and the
            total deadline is enforced on every socket operation.
        max_entries: Most entries :meth:`fetch` returns per feed (the newest).
        max_encodings: Most stacked ``Content-Encoding`` layers accepted.
    """

    def __init__(
        self,
        timeout: float = 20.0,
        max_bytes: int = 5_000_000,
        max_redirects: int = 5,
        allow_private: bool = False,
        user_agent: str = DEFAULT_USER_AGENT,
        transport: httpx.BaseTransport | None = None,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_encodings: int = DEFAULT_MAX_ENCODINGS,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.allow_private = allow_private
        self.user_agent = user_agent
        self.max_entries = max_entries
        self.max_encodings = max_encodings
        # trust_env=False: an environment proxy would resolve and connect on
        # its own, around the address pinning.
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport or _GuardedTransport(allow_private=allow_private),
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            trust_env=False,
        )

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def __enter__(self) -> FeedFetcher:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def fetch(
        self, url: str, *, etag: str | None = None, last_modified: str | None = None
    ) -> FetchResult:
        """Fetch and parse a feed, conditionally when validators are given.

        Args:
            url: Feed URL (http or https).
            etag: ``ETag`` from the previous successful fetch, if any.
            last_modified: ``Last-Modified`` from the previous fetch, if any.

        Returns:
            A :class:`FetchResult`; network, HTTP and parse problems give
            ``status="error"`` with a one-line ``error``, never an exception.
        """
        headers = {"Accept": FEED_ACCEPT}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        try:
            response = self._get(url, headers)
        except FetchError as exc:
            log.info("feed %s: %s", url, exc)
            return FetchResult("error", etag=etag, last_modified=last_modified, error=str(exc))
        new_etag = response.headers.get("etag") or etag
        new_modified = response.headers.get("last-modified") or last_modified
        if response.status == 304:
            return FetchResult(
                "not_modified", etag=new_etag, last_modified=new_modified, http_status=304
            )
        error = _status_error(response.status)
        if error:
            log.info("feed %s: %s", url, error)
            return FetchResult(
                "error",
                etag=etag,
                last_modified=last_modified,
                error=error,
                http_status=response.status,
            )
        try:
            result = parse_feed(
                response.body,
                url=response.url,
                content_type=response.content_type,
                max_entries=self.max_entries,
            )
        except Exception as exc:  # a parser bug must not take the poller down
            log.exception("feed %s: parser crashed", url)
            result = FetchResult("error", error=f"could not parse feed: {_one_line(exc)}")
        result.http_status = response.status
        if result.status == "ok":
            result.etag = response.headers.get("etag")
            result.last_modified = response.headers.get("last-modified")
        else:
            log.info("feed %s: %s", url, result.error)
            result.etag, result.last_modified = etag, last_modified
        return result

    def fetch_text(self, url: str) -> str:
        """Fetch a document and return it as text.

        Args:
            url: Document URL (http or https).

        Returns:
            The body decoded with the response charset (UTF-8 by default).

        Raises:
            FetchError: Unsafe URL, network failure, timeout, oversized body,
                redirect problem or an HTTP status other than 2xx.
        """
        response = self._get_ok(url, {"Accept": "text/html, application/xhtml+xml, */*;q=0.8"})
        return scrub_text(_decode(response.body, response.content_type))

    def fetch_json(self, url: str) -> Any:
        """Fetch a JSON document and return it decoded.

        Args:
            url: Document URL (http or https).

        Returns:
            The decoded JSON value. Invalid UTF-8 bytes and lone surrogate
            escapes (``"\\ud800"``) become U+FFFD instead of failing the
            document, so every string in it encodes as UTF-8.

        Raises:
            FetchError: As for :meth:`fetch_text`, or the body is not JSON.
        """
        response = self._get_ok(url, {"Accept": JSON_ACCEPT})
        try:
            return scrub_json(_loads(response.body))
        except RecursionError as exc:  # hostile nesting (json.loads recurses per level)
            raise FetchError("invalid JSON: nested too deeply") from exc
        except ValueError as exc:
            raise FetchError(f"invalid JSON: {_one_line(exc)}") from exc

    def _get_ok(self, url: str, headers: dict[str, str]) -> _Response:
        response = self._get(url, headers)
        if not 200 <= response.status < 300:
            raise FetchError(f"HTTP {response.status}")
        return response

    def _get(self, url: str, headers: dict[str, str]) -> _Response:
        """GET ``url`` following redirects; raise FetchError on any failure."""
        deadline = time.monotonic() + self.timeout
        token = _DEADLINE.set(deadline)
        try:
            return self._follow(url, headers, deadline)
        except httpx.TimeoutException as exc:
            raise FetchError(self._timeout_message()) from exc
        except UnsafeUrl as exc:  # raised by the pinning backend at connect time
            raise FetchError(str(exc)) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError(f"network error: {_one_line(exc)}") from exc
        finally:
            _DEADLINE.reset(token)

    def _follow(self, url: str, headers: dict[str, str], deadline: float) -> _Response:
        seen: set[str] = set()
        current = url
        for _hop in range(self.max_redirects + 1):
            if time.monotonic() > deadline:
                raise FetchError(self._timeout_message())
            current = self._checked(current)
            if current in seen:
                raise FetchError(f"redirect loop at {current}")
            seen.add(current)
            response = self._get_once(current, headers, deadline)
            if isinstance(response, _Response):
                return response
            current = response
        raise FetchError(f"too many redirects (more than {self.max_redirects})")

    def _checked(self, url: str) -> str:
        try:
            return check_source_url(url, allow_private=self.allow_private)
        except UnsafeUrl as exc:
            raise FetchError(str(exc)) from exc

    def _get_once(self, url: str, headers: dict[str, str], deadline: float) -> _Response | str:
        """One request: a redirect target URL, or the final response with its body."""
        with self._client.stream("GET", url, headers=headers) as response:
            if response.status_code in _REDIRECT_STATUSES:
                location = response.headers.get("location", "").strip()
                if not location:
                    raise FetchError(
                        f"HTTP {response.status_code} redirect without a Location header"
                    )
                return urljoin(url, location)
            body = self._read_capped(response, deadline) if response.status_code < 300 else b""
            return _Response(str(response.url), response.status_code, response.headers, body)

    def _read_capped(self, response: httpx.Response, deadline: float) -> bytes:
        """Read raw bytes and decode them here, never past ``max_bytes`` either way.

        httpx's own decoders inflate a whole chunk at once (a 64 KiB chunk of
        a gzip bomb is 64 MiB), and stack any number of encodings, so the raw
        stream is read and decoded by :class:`_BodyDecoder` instead.
        """
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(self._too_large_message())
        decoder = _BodyDecoder(response.headers.get("content-encoding", ""), self.max_encodings)
        buffer = bytearray()
        received = 0
        for raw in response.iter_raw(_RAW_CHUNK):
            received += len(raw)
            if received > self.max_bytes:
                raise FetchError(self._too_large_message())
            self._append_capped(buffer, decoder.decode(raw))
            if time.monotonic() > deadline:
                raise FetchError(self._timeout_message())
        self._append_capped(buffer, decoder.finish())
        return bytes(buffer)

    def _append_capped(self, buffer: bytearray, pieces: Iterable[bytes]) -> None:
        for piece in pieces:
            buffer.extend(piece)
            if len(buffer) > self.max_bytes:
                raise FetchError(self._too_large_message())

    def _too_large_message(self) -> str:
        return f"response larger than {self.max_bytes} bytes"

    def _timeout_message(self) -> str:
        return f"timed out after {self.timeout:g}s"


def scrub_text(text: str) -> str:
    """Return ``text`` made encodable as UTF-8.

    Lone surrogates (from a JSON ``"\\ud800"`` escape or a broken decoder)
    become U+FFFD; a valid surrogate pair left split becomes its character.

    Args:
        text: Any string.

    Returns:
        ``text`` itself when it is already valid, else the repaired copy.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return text


def scrub_json(value: Any) -> Any:
    """Apply :func:`scrub_text` to every string (keys too) in a decoded JSON value.

    Args:
        value: A value as returned by :func:`json.loads`.

    Returns:
        The same structure with every string encodable as UTF-8.
    """
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, list):
        return [scrub_json(item) for item in value]
    if isinstance(value, dict):
        return {scrub_text(str(key)): scrub_json(item) for key, item in value.items()}
    return value


# Network layer ---------------------------------------------------------------


def _time_left(timeout: float | None, error: type[Exception]) -> float | None:
    """``timeout`` cut to what is left of the current fetch's total deadline."""
    deadline = _DEADLINE.get()
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
        return self._inner.read(max_bytes, _time_left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _time_left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: Any,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        left = _time_left(timeout, httpcore.ConnectTimeout)
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
            left = _time_left(timeout, httpcore.ConnectTimeout)
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


class _GuardedTransport(httpx.HTTPTransport):
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


# Content-Encoding ------------------------------------------------------------


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
                raise FetchError(f"invalid {self.encoding} body: {_one_line(exc)}") from exc
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


class _BodyDecoder:
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
                f"{_one_line(ValueError(content_encoding))}"
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


# Parsing ---------------------------------------------------------------------


def parse_feed(
    data: bytes, *, url: str = "", content_type: str = "", max_entries: int | None = None
) -> FetchResult:
    """Parse RSS/Atom bytes into a :class:`FetchResult` (status ok or error).

    Character references to characters XML does not allow (``&#xD800;``,
    ``&#1114112;``, ``&#0;``) become U+FFFD first, so one bad reference does
    not fail the whole feed; every string in the result encodes as UTF-8.

    Args:
        data: The raw feed document.
        url: Where it came from; relative links are resolved against it.
        content_type: The response ``Content-Type``, used for the charset.
        max_entries: Keep at most this many entries, the newest (``None``: all).

    Returns:
        ``status="ok"`` with deduplicated entries, or ``status="error"`` when
        the document is malformed with no usable entries or is not a feed.
    """
    # No content-location on purpose: feedparser would resolve non-URL GUIDs
    # ("1234") against the feed URL, so they would change when a feed moves.
    # Links and HTML are made absolute here instead.
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(io.BytesIO(fix_char_refs(data)), response_headers=headers)
    title = _clean(parsed.feed.get("title", ""))
    entries = dedupe_entries(_entry(raw, url) for raw in parsed.entries)
    if max_entries is not None and len(entries) > max_entries:
        log.info("feed %s: keeping the newest %d of %d entries", url, max_entries, len(entries))
        entries = newest_entries(entries, max_entries)
    if entries:
        if parsed.get("bozo"):
            log.debug(
                "feed %s is not well-formed but has entries: %s", url, parsed.get("bozo_exception")
            )
        return FetchResult("ok", entries=entries, feed_title=title)
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if problem is not None and not isinstance(problem, _BENIGN_BOZO):
        return FetchResult("error", error=f"malformed feed: {_one_line(problem)}")
    if not parsed.get("version"):
        return FetchResult("error", error=f"not an RSS or Atom feed ({_media_type(content_type)})")
    return FetchResult("ok", feed_title=title)


def newest_entries(entries: list[FeedEntry], limit: int) -> list[FeedEntry]:
    """Keep the ``limit`` newest entries, in their feed order.

    Entries are ranked by update time, then publication date; undated
    entries rank oldest, and ties go to the entry earlier in the feed (feeds
    list newest first).

    Args:
        entries: Entries in feed order.
        limit: How many to keep.

    Returns:
        At most ``limit`` entries.
    """
    if len(entries) <= limit:
        return list(entries)
    ranked = sorted(
        range(len(entries)),
        key=lambda index: (entries[index].updated or entries[index].published, -index),
        reverse=True,
    )
    kept = sorted(ranked[: max(0, limit)])
    return [entries[index] for index in kept]


def fix_char_refs(data: bytes) -> bytes:
    """Replace numeric character references to characters XML forbids with U+FFFD.

    feedparser crashes on ``&#xD800;`` (a surrogate) and ``&#1114112;``
    (beyond Unicode) and the strict parser gives up on ``&#0;``; valid
    references are left alone. Only ASCII-compatible encodings are seen
    (a UTF-16 feed's references do not match and pass through).

    Args:
        data: Raw XML bytes.

    Returns:
        The bytes with each bad reference replaced by ``&#xFFFD;``.
    """
    if b"&#" not in data:
        return data
    return _CHAR_REF.sub(_checked_char_ref, data)


def _checked_char_ref(match: re.Match[bytes]) -> bytes:
    hex_digits, decimal_digits = match.groups()
    digits = hex_digits or decimal_digits
    if len(digits) > 8:  # beyond U+10FFFF whatever the digits
        return _REPLACEMENT_REF
    code = int(digits, 16 if hex_digits else 10)
    return match.group(0) if _is_xml_char(code) else _REPLACEMENT_REF


def _is_xml_char(code: int) -> bool:
    """XML 1.0 ``Char``: tab, newline, CR and U+0020..U+10FFFF minus surrogates, FFFE, FFFF."""
    if code in (0x9, 0xA, 0xD):
        return True
    return 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def dedupe_entries(entries: Iterable[FeedEntry]) -> list[FeedEntry]:
    """Drop entries whose GUID was already seen, keeping the first of each.

    Args:
        entries: Entries in feed order.

    Returns:
        The entries with duplicate GUIDs removed.
    """
    seen: set[str] = set()
    kept: list[FeedEntry] = []
    for entry in entries:
        if entry.guid in seen:
            log.debug("dropping duplicate feed entry %s", entry.guid)
            continue
        seen.add(entry.guid)
        kept.append(entry)
    return kept


def canonical_link(url: str) -> str:
    """Return ``url`` without ``utm_*`` tracking parameters and surrounding space.

    Args:
        url: A post URL from a feed.

    Returns:
        The cleaned URL (fragments are kept: some feeds link items by anchor).
    """
    url = url.strip()
    if "utm_" not in url:
        return url
    parts = urlsplit(url)
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(key, value) for key, value in pairs if not key.lower().startswith("utm_")]
    if len(kept) == len(pairs):
        return url
    return urlunsplit(parts._replace(query=urlencode(kept)))


def _entry(raw: feedparser.FeedParserDict, base_url: str) -> FeedEntry:
    link = canonical_link(
        _absolute(raw.get("feedburner_origlink") or raw.get("link") or "", base_url)
    )
    title = _clean(raw.get("title", ""))
    published_at = raw.get("published_parsed") or raw.get("updated_parsed")
    published = _iso_date(published_at)
    guid = scrub_text(str(raw.get("id") or "")).strip() or link
    return FeedEntry(
        guid=guid or _synthetic_guid(title, published),
        link=link,
        title=title,
        published=published,
        updated=_iso_datetime(raw.get("updated_parsed")),
        summary_html=_absolute_html(str(raw.get("summary", "") or ""), base_url),
        content_html=_absolute_html(_content_html(raw.get("content") or []), base_url),
        author=_clean(raw.get("author", "")),
    )


def _absolute(link: str, base_url: str) -> str:
    link = scrub_text(str(link)).strip()
    return urljoin(base_url, link) if link and base_url else link


def _absolute_html(markup: str, base_url: str) -> str:
    """Make relative ``href``/``src`` URLs in ``markup`` absolute."""
    markup = scrub_text(markup)
    if not markup or not base_url:
        return markup
    try:
        return resolve_relative_uris(markup, base_url, "utf-8", "text/html")
    except Exception as exc:  # third-party HTML parser: never fail a feed over it
        log.debug("could not resolve relative URLs against %s: %s", base_url, exc)
        return markup


def _content_html(contents: list[dict[str, Any]]) -> str:
    """The longest HTML content block; plain-text content is escaped into HTML."""
    best = ""
    for block in contents:
        value = block.get("value") or ""
        if block.get("type", "text/html") == "text/plain":
            value = f"<p>{html.escape(value)}</p>" if value else ""
        if len(value) > len(best):
            best = value
    return best


def _iso_date(parsed: time.struct_time | None) -> str:
    return _to_utc(parsed).strftime("%Y-%m-%d") if parsed else ""


def _iso_datetime(parsed: time.struct_time | None) -> str:
    return _to_utc(parsed).strftime("%Y-%m-%dT%H:%M:%SZ") if parsed else ""


def _to_utc(parsed: time.struct_time) -> datetime:
    return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)


def _synthetic_guid(title: str, published: str) -> str:
    digest = hashlib.sha1(f"{title}\n{published}".encode()).hexdigest()
    return f"sha1:{digest}"


def _status_error(status: int) -> str:
    return "" if 200 <= status < 300 else f"HTTP {status}"


def _decode(body: bytes, content_type: str) -> str:
    message = Message()
    message["content-type"] = content_type or "text/plain"
    charset = message.get_content_charset() or "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _media_type(content_type: str) -> str:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _HTML_CONTENT_TYPES:
        return f"got an HTML page, {media}"
    return f"content type {media}" if media else "no content type"


def _clean(text: object) -> str:
    return " ".join(scrub_text(str(text)).split())


def _loads(body: bytes) -> Any:
    """``json.loads`` that turns invalid UTF-8 into U+FFFD instead of failing."""
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        return json.loads(body.decode("utf-8", errors="replace"))


def _one_line(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return " ".join(text.split())

"""The guarded HTTP client every fetch from the network goes through: :class:`SafeHttpClient`.

A small, defensive client built on a synchronous ``httpx.Client`` (it runs in worker threads):
manual redirects with an SSRF check on every hop
(:func:`knowledge.clients.urlsafety.check_source_url`), a cap on the body size and on the
total time per request. :meth:`SafeHttpClient.fetch_text` and :meth:`SafeHttpClient.fetch_json`
raise :class:`FetchError` with a one-line reason. The feed fetcher
(:class:`knowledge.clients.feeds.FeedFetcher`) and the Substack client build on it.

Hostile servers are expected. The total time limit covers connect, TLS,
headers and body whatever the server sends (every socket operation gets at
most the time left, see :mod:`knowledge.clients.guarded`); the connection goes to
exactly the address that passed the SSRF check (so
DNS rebinding cannot reach an internal host); compressed bodies are decoded
here, layer by layer with a bounded output per step, so a gzip bomb stops at
``max_bytes`` of decoded output; and every string handed out is valid UTF-8
(:func:`scrub_text`).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from typing import Any, Self
from urllib.parse import urljoin

import httpx

from knowledge.clients.guarded import (
    DEADLINE,
    RAW_CHUNK,
    BodyDecoder,
    FetchError,
    GuardedTransport,
    one_line,
)
from knowledge.clients.urlsafety import UnsafeUrl, check_source_url

log = logging.getLogger(__name__)


DEFAULT_USER_AGENT = "digestbot/0.1 (+https://github.com/digestbot)"


JSON_ACCEPT = "application/json, */*;q=0.5"


ACCEPT_ENCODING = "gzip, deflate"


DEFAULT_MAX_ENCODINGS = 2


_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


_HTML_CONTENT_TYPES = ("text/html", "application/xhtml+xml")


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


class SafeHttpClient:
    """Safe HTTP client for feeds and small JSON/HTML documents.

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
        max_encodings: int = DEFAULT_MAX_ENCODINGS,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.allow_private = allow_private
        self.user_agent = user_agent
        self.max_encodings = max_encodings
        # trust_env=False: an environment proxy would resolve and connect on
        # its own, around the address pinning.
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport or GuardedTransport(allow_private=allow_private),
            headers={"User-Agent": user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            trust_env=False,
        )

    def close(self) -> None:
        """Close the underlying connection pool."""
        self._client.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

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
            raise FetchError(f"invalid JSON: {one_line(exc)}") from exc

    def _get_ok(self, url: str, headers: dict[str, str]) -> _Response:
        response = self._get(url, headers)
        if not 200 <= response.status < 300:
            raise FetchError(f"HTTP {response.status}")
        return response

    def _get(self, url: str, headers: dict[str, str]) -> _Response:
        """GET ``url`` following redirects; raise FetchError on any failure."""
        deadline = time.monotonic() + self.timeout
        token = DEADLINE.set(deadline)
        try:
            return self._follow(url, headers, deadline)
        except httpx.TimeoutException as exc:
            raise FetchError(self._timeout_message()) from exc
        except UnsafeUrl as exc:  # raised by the pinning backend at connect time
            raise FetchError(str(exc)) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError(f"network error: {one_line(exc)}") from exc
        finally:
            DEADLINE.reset(token)

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
        stream is read and decoded by :class:`BodyDecoder` instead.
        """
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(self._too_large_message())
        decoder = BodyDecoder(response.headers.get("content-encoding", ""), self.max_encodings)
        buffer = bytearray()
        received = 0
        for raw in response.iter_raw(RAW_CHUNK):
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


def status_error(status: int) -> str:
    return "" if 200 <= status < 300 else f"HTTP {status}"


def _decode(body: bytes, content_type: str) -> str:
    message = Message()
    message["content-type"] = content_type or "text/plain"
    charset = message.get_content_charset() or "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def media_type(content_type: str) -> str:
    media = content_type.split(";", 1)[0].strip().lower()
    if media in _HTML_CONTENT_TYPES:
        return f"got an HTML page, {media}"
    return f"content type {media}" if media else "no content type"


def _loads(body: bytes) -> Any:
    """``json.loads`` that turns invalid UTF-8 into U+FFFD instead of failing."""
    try:
        return json.loads(body)
    except UnicodeDecodeError:
        return json.loads(body.decode("utf-8", errors="replace"))



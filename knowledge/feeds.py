"""Fetching and parsing RSS/Atom feeds of digest newsletters.

:class:`FeedFetcher` is a small, defensive HTTP client built on a synchronous
``httpx.Client`` (it runs in worker threads): conditional GETs with ETag and
Last-Modified, manual redirects with an SSRF check on every hop
(:func:`knowledge.urlsafety.check_source_url`), a cap on the body size and on
the total time per request. :meth:`FeedFetcher.fetch` never raises for network
or parse problems; it returns a :class:`FetchResult` with ``status="error"``
and a one-line reason. :meth:`FeedFetcher.fetch_text` and
:meth:`FeedFetcher.fetch_json` apply the same safety to plain documents and
raise :class:`FetchError` instead.
"""

from __future__ import annotations

import calendar
import hashlib
import html
import io
import json
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import Message
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
import httpx
from feedparser.urls import resolve_relative_uris

from knowledge.urlsafety import UnsafeUrl, check_source_url

log = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "digestbot/0.1 (+https://github.com/digestbot)"
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
JSON_ACCEPT = "application/json, */*;q=0.5"
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
        timeout: Seconds allowed per request, covering connect, each read and
            the whole download including redirects.
        max_bytes: Largest accepted (decoded) body; larger ones are aborted.
        max_redirects: Redirect hops followed before giving up.
        allow_private: Allow loopback/private hosts (tests, self-hosting).
        user_agent: ``User-Agent`` header sent with every request.
        transport: Optional httpx transport (e.g. ``httpx.MockTransport``).
    """

    def __init__(
        self,
        timeout: float = 20.0,
        max_bytes: int = 5_000_000,
        max_redirects: int = 5,
        allow_private: bool = False,
        user_agent: str = DEFAULT_USER_AGENT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.allow_private = allow_private
        self.user_agent = user_agent
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            transport=transport,
            headers={"User-Agent": user_agent},
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
            result = parse_feed(response.body, url=response.url, content_type=response.content_type)
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
        return _decode(response.body, response.content_type)

    def fetch_json(self, url: str) -> Any:
        """Fetch a JSON document and return it decoded.

        Args:
            url: Document URL (http or https).

        Returns:
            The decoded JSON value.

        Raises:
            FetchError: As for :meth:`fetch_text`, or the body is not JSON.
        """
        response = self._get_ok(url, {"Accept": JSON_ACCEPT})
        try:
            return json.loads(response.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise FetchError(f"invalid JSON: {_one_line(exc)}") from exc

    def _get_ok(self, url: str, headers: dict[str, str]) -> _Response:
        response = self._get(url, headers)
        if not 200 <= response.status < 300:
            raise FetchError(f"HTTP {response.status}")
        return response

    def _get(self, url: str, headers: dict[str, str]) -> _Response:
        """GET ``url`` following redirects; raise FetchError on any failure."""
        deadline = time.monotonic() + self.timeout
        try:
            return self._follow(url, headers, deadline)
        except httpx.TimeoutException as exc:
            raise FetchError(self._timeout_message()) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError(f"network error: {_one_line(exc)}") from exc

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
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchError(self._too_large_message())
        buffer = bytearray()
        for chunk in response.iter_bytes():
            buffer.extend(chunk)
            if len(buffer) > self.max_bytes:
                raise FetchError(self._too_large_message())
            if time.monotonic() > deadline:
                raise FetchError(self._timeout_message())
        return bytes(buffer)

    def _too_large_message(self) -> str:
        return f"response larger than {self.max_bytes} bytes"

    def _timeout_message(self) -> str:
        return f"timed out after {self.timeout:g}s"


def parse_feed(data: bytes, *, url: str = "", content_type: str = "") -> FetchResult:
    """Parse RSS/Atom bytes into a :class:`FetchResult` (status ok or error).

    Args:
        data: The raw feed document.
        url: Where it came from; relative links are resolved against it.
        content_type: The response ``Content-Type``, used for the charset.

    Returns:
        ``status="ok"`` with deduplicated entries, or ``status="error"`` when
        the document is malformed with no usable entries or is not a feed.
    """
    # No content-location on purpose: feedparser would resolve non-URL GUIDs
    # ("1234") against the feed URL, so they would change when a feed moves.
    # Links and HTML are made absolute here instead.
    headers = {"content-type": content_type} if content_type else {}
    parsed = feedparser.parse(io.BytesIO(data), response_headers=headers)
    title = _clean(parsed.feed.get("title", ""))
    entries = dedupe_entries(_entry(raw, url) for raw in parsed.entries)
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
    guid = (raw.get("id") or "").strip() or link or _synthetic_guid(title, published)
    return FeedEntry(
        guid=guid,
        link=link,
        title=title,
        published=published,
        updated=_iso_datetime(raw.get("updated_parsed")),
        summary_html=_absolute_html(raw.get("summary", "") or "", base_url),
        content_html=_absolute_html(_content_html(raw.get("content") or []), base_url),
        author=_clean(raw.get("author", "")),
    )


def _absolute(link: str, base_url: str) -> str:
    link = link.strip()
    return urljoin(base_url, link) if link and base_url else link


def _absolute_html(markup: str, base_url: str) -> str:
    """Make relative ``href``/``src`` URLs in ``markup`` absolute."""
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


def _clean(text: str) -> str:
    return " ".join(str(text).split())


def _one_line(exc: BaseException) -> str:
    text = str(exc) or exc.__class__.__name__
    return " ".join(text.split())

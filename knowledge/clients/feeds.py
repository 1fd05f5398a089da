"""Fetching and parsing RSS/Atom feeds of digest newsletters.

:class:`FeedFetcher` is the guarded HTTP client (:mod:`knowledge.clients.http`) plus
conditional GETs of feeds with ETag and Last-Modified. :meth:`FeedFetcher.fetch` never
raises for network or parse problems; it returns a :class:`FetchResult` with
``status="error"`` and a one-line reason.

Hostile servers are expected: the limits are the guarded client's (:mod:`knowledge.clients.http`),
plus at most ``max_entries`` entries kept per feed (the newest).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass, field
from typing import Any

import feedparser

from knowledge.clients.entries import (
    FeedEntry,
    clean_text,
    dedupe_entries,
    entry_from_feedparser,
    fix_char_refs,
    newest_entries,
)
from knowledge.clients.http import (
    FetchError,
    SafeHttpClient,
    media_type,
    one_line,
    status_error,
)

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)

DEFAULT_MAX_ENTRIES = 200
_BENIGN_BOZO = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)


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


# Network layer ---------------------------------------------------------------


# Content-Encoding ------------------------------------------------------------


# Parsing ---------------------------------------------------------------------


class FeedFetcher(SafeHttpClient):
    """The guarded HTTP client (:class:`~knowledge.clients.http.SafeHttpClient`) that also fetches
    and parses feeds, conditionally (ETag, Last-Modified).

    Args:
        max_entries: Most entries :meth:`fetch` returns per feed (the newest).
        **options: As for :class:`~knowledge.clients.http.SafeHttpClient`.
    """

    def __init__(self, *, max_entries: int = DEFAULT_MAX_ENTRIES, **options: Any) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        super().__init__(**options)
        self.max_entries = max_entries

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
        error = status_error(response.status)
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
            result = FetchResult("error", error=f"could not parse feed: {one_line(exc)}")
        result.http_status = response.status
        if result.status == "ok":
            result.etag = response.headers.get("etag")
            result.last_modified = response.headers.get("last-modified")
        else:
            log.info("feed %s: %s", url, result.error)
            result.etag, result.last_modified = etag, last_modified
        return result


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
    title = clean_text(parsed.feed.get("title", ""))
    entries = dedupe_entries(entry_from_feedparser(raw, url) for raw in parsed.entries)
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
        return FetchResult("error", error=f"malformed feed: {one_line(problem)}")
    if not parsed.get("version"):
        return FetchResult("error", error=f"not an RSS or Atom feed ({media_type(content_type)})")
    return FetchResult("ok", feed_title=title)



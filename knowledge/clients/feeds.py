"""Fetching and parsing RSS/Atom feeds of digest newsletters.

:class:`FeedFetcher` is the guarded HTTP client (:mod:`knowledge.clients.http`) plus
conditional GETs of feeds with ETag and Last-Modified. :meth:`FeedFetcher.fetch` never
raises for network or parse problems; it returns a :class:`FetchResult` with
``status="error"`` and a one-line reason.

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
import hashlib
import html
import io
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
from feedparser.urls import resolve_relative_uris

from knowledge.clients.http import (
    FetchError,
    SafeHttpClient,
    media_type,
    one_line,
    scrub_text,
    status_error,
)

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"
)
DEFAULT_MAX_ENTRIES = 200
_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")
_REPLACEMENT_REF = b"&#xFFFD;"
_BENIGN_BOZO = (feedparser.NonXMLContentType, feedparser.CharacterEncodingOverride)


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
        return FetchResult("error", error=f"malformed feed: {one_line(problem)}")
    if not parsed.get("version"):
        return FetchResult("error", error=f"not an RSS or Atom feed ({media_type(content_type)})")
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


def _clean(text: object) -> str:
    return " ".join(scrub_text(str(text)).split())



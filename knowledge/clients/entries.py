"""Feed entries: :class:`FeedEntry` built from what feedparser read (links and HTML made
absolute, dates in UTC, every string valid UTF-8), de-duplicated and capped to the newest;
character references XML does not allow are replaced before parsing (:func:`fix_char_refs`)."""

from __future__ import annotations

import calendar
import hashlib
import html
import logging
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

import feedparser
from feedparser.urls import resolve_relative_uris

from knowledge.clients.http import (
    scrub_text,
)

log = logging.getLogger(__name__)


_CHAR_REF = re.compile(rb"&#(?:[xX]([0-9a-fA-F]+)|([0-9]+));")


_REPLACEMENT_REF = b"&#xFFFD;"


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


def entry_from_feedparser(raw: feedparser.FeedParserDict, base_url: str) -> FeedEntry:
    link = canonical_link(
        _absolute(raw.get("feedburner_origlink") or raw.get("link") or "", base_url)
    )
    title = clean_text(raw.get("title", ""))
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
        author=clean_text(raw.get("author", "")),
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


def clean_text(text: object) -> str:
    return " ".join(scrub_text(str(text)).split())

"""Digest issues from the network: feed entries and Substack posts become Documents."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from knowledge.config import Settings
from knowledge.facade import KnowledgeBase
from knowledge.feeds import FeedEntry, FeedFetcher, FetchError
from knowledge.models import Document, IngestReport
from knowledge.parsing import ParseError, document_from_html
from knowledge.parsing.metadata import digest_for_url
from knowledge.substack import SubstackClient, SubstackPost, substack_base_from_url

log = logging.getLogger(__name__)

MIN_FEED_TEXT = 400  # below this, a feed item is a teaser: fetch the post page for the full text


def make_fetcher(settings: Settings) -> FeedFetcher:
    """A fetcher with the configured timeout, size cap and private-address policy."""
    return FeedFetcher(timeout=settings.http_timeout_seconds, max_bytes=settings.max_feed_bytes, allow_private=settings.allow_private_urls)


def document_from_entry(entry: FeedEntry, digest: str, fetcher: FeedFetcher | None = None) -> Document:
    """The full issue behind a feed entry (the entry's content, else its page).

    Raises:
        ParseError: The entry has no usable text.
        FetchError: The post page was needed and could not be fetched.
    """
    html = entry.content_html or entry.summary_html or ""
    if len(html) < MIN_FEED_TEXT and fetcher is not None and entry.link:
        try:
            page = fetcher.fetch_text(entry.link)
        except FetchError:
            if not html.strip():
                raise
            log.info("using the feed's short text for %s: its page could not be fetched", entry.link)
        else:
            html = page if len(page) > len(html) else html
    if not html.strip():
        raise ParseError("the entry has no text")
    return document_from_html(html, source=entry.link or entry.guid, digest=digest, url=entry.link, title=entry.title, date=entry.published)


def document_from_post(post: SubstackPost, digest: str) -> Document:
    """A Substack post as a document; paid posts keep what is public and are marked ``paid``."""
    html = post.body_html or f"<p>{post.description or post.subtitle}</p>"
    return document_from_html(
        html, source=post.canonical_url, digest=digest, url=post.canonical_url, title=post.title, date=post.post_date,
        extra={"paid": post.paid},
    )


def ingest_url(kb: KnowledgeBase, url: str, *, digest: str | None = None, settings: Settings | None = None, max_posts: int | None = None) -> IngestReport:
    """Ingest a feed URL (every entry it holds) or a Substack publication (its whole archive).

    A URL without a path is tried as a Substack publication first; anything else
    (or a publication without the archive API) is read as an RSS/Atom feed.
    """
    settings = settings or kb.settings
    started = time.perf_counter()
    report = IngestReport()
    with make_fetcher(settings) as fetcher:
        name = digest or digest_for_url(url)
        path = urlsplit(url).path.strip("/")
        base = substack_base_from_url(url)
        docs: list[Document] = []
        if base and path in ("", "archive"):
            try:
                client = SubstackClient(fetcher, base)
                for post in client.iter_archive(max_posts=max_posts):
                    try:
                        docs.append(document_from_post(post, name or _host_name(base)))
                    except ParseError as exc:
                        report.failed += 1
                        report.failures.append((post.canonical_url, str(exc)))
                report.failed += client.failures
            except FetchError as exc:
                log.info("%s is not a Substack archive (%s); reading it as a feed", url, exc)
                docs = []
        if not docs:
            result = fetcher.fetch(url)
            if not result.ok:
                report.failed += 1
                report.failures.append((url, result.error or result.status))
                report.seconds = time.perf_counter() - started
                return report
            name = name or result.feed_title or _host_name(url)
            for entry in result.entries[: max_posts or None]:
                try:
                    docs.append(document_from_entry(entry, name, fetcher))
                except (ParseError, FetchError) as exc:
                    report.failed += 1
                    report.failures.append((entry.link or entry.guid, str(exc)))
    kb.ingest_documents(docs, report=report)
    report.seconds = time.perf_counter() - started
    return report


def _host_name(url: str) -> str:
    return urlsplit(url).netloc.removeprefix("www.") or "Feed"

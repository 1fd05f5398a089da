"""What an ingest reads: files and folders the user names, feed URLs, Substack publications,
and the feed entries and Substack posts the poller finds (they become Documents here)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from urllib.parse import urlsplit

from knowledge.clients.entries import FeedEntry
from knowledge.clients.feeds import FeedFetcher
from knowledge.clients.http import FetchError
from knowledge.clients.substack import SubstackClient, SubstackPost, substack_base_from_url
from knowledge.config import Settings
from knowledge.ingest.parsing import ParseError, document_from_html
from knowledge.ingest.parsing.metadata import digest_for_url
from knowledge.interface import Knowledge, Progress
from knowledge.models import Document, IngestReport

log = logging.getLogger(__name__)


def is_url(text: str) -> bool:
    """Whether an input names a URL rather than a path."""
    return text.startswith(("http://", "https://"))


def ingest_inputs(
    kb: Knowledge,
    inputs: list[str],
    *,
    digest: str | None = None,
    progress: Progress | None = None,
    settings: Settings | None = None,
) -> IngestReport:
    """Ingest paths and URLs into the knowledge base; one failing input never stops the rest.

    Args:
        kb: The knowledge base.
        inputs: Files, folders, feed URLs or Substack publication URLs.
        digest: Digest name to use for everything (else guessed).
        progress: Progress callback for file ingests.
        settings: Settings for network fetches (timeouts, size caps).
    """
    paths = [p for p in inputs if not is_url(p)]
    urls = [u for u in inputs if is_url(u)]
    missing = [p for p in paths if not Path(p).exists()]
    report = kb.ingest([p for p in paths if p not in missing], digest=digest, progress=progress) if paths else IngestReport()
    for p in missing:
        report.failed += 1
        report.failures.append((p, "no such file or folder"))
    if urls:
        for url in urls:
            part = ingest_url(kb, url, digest=digest, settings=settings or kb.settings)
            _merge(report, part)
    return report


def _merge(into: IngestReport, part: IngestReport) -> None:
    into.added += part.added
    into.updated += part.updated
    into.unchanged += part.unchanged
    into.failed += part.failed
    into.chunks_embedded += part.chunks_embedded
    into.seconds += part.seconds
    into.failures.extend(part.failures)
    into.doc_ids.extend(part.doc_ids)

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


def ingest_url(kb: Knowledge, url: str, *, digest: str | None = None, settings: Settings | None = None, max_posts: int | None = None) -> IngestReport:
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

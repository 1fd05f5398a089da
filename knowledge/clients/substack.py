"""Client for the (unofficial, keyless) Substack publication API.

Used to backfill a newsletter's archive: ``/api/v1/archive`` lists post
summaries newest first, ``/api/v1/posts/<slug>`` returns one post with its
``body_html``. For paid posts the body is only the public preview. All
requests go through :class:`knowledge.clients.http.SafeHttpClient`, so the same URL
safety, size and time limits apply, and they are paced to stay polite. A
backfill reads at most ``max_posts`` posts' worth of archive pages, so an
archive that never ends (or lists only threads forever) still stops.
"""

from __future__ import annotations

import logging
import math
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

from bs4 import BeautifulSoup

from knowledge.clients.http import FetchError, SafeHttpClient, scrub_text

log = logging.getLogger(__name__)

TEXT_POST_TYPES = frozenset({"newsletter", "podcast"})
DEFAULT_MAX_POSTS = 500
_SUBSTACK_DOMAIN = "substack.com"
_NON_PUBLICATION_SUBDOMAINS = frozenset({"www", "open", "api", "cdn", "on", "support", "read"})
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


@dataclass
class SubstackPost:
    """One Substack post with its HTML body.

    Attributes:
        slug: URL slug (``/p/<slug>``).
        title: Post title.
        subtitle: Post subtitle, or ``""``.
        post_date: Publication date as ``YYYY-MM-DD`` (UTC), or ``""``.
        canonical_url: The post's canonical URL.
        audience: ``"everyone"``, ``"only_paid"``, ``"founding"``, ... as sent.
        paid: True when ``audience == "only_paid"`` (body is a preview).
        body_html: Post body; truncated to the free preview for paid posts.
        description: Short description (often equal to the subtitle).
        post_id: Substack's numeric id, when given.
        post_type: ``"newsletter"`` or ``"podcast"``.
    """

    slug: str
    title: str
    subtitle: str
    post_date: str
    canonical_url: str
    audience: str
    paid: bool
    body_html: str
    description: str
    post_id: int | None = None
    post_type: str = "newsletter"


class SubstackClient:
    """Pages through a publication's archive and fetches each post.

    Args:
        fetcher: The fetcher used for every request.
        base_url: Publication root, e.g. ``https://name.substack.com``.
        page_size: Archive page size requested (``limit``).
        pace_seconds: Pause between consecutive requests.
        sleep: Sleep function (injected in tests).
        max_posts: Safety cap per backfill (``SUBSTACK_MAX_POSTS``): at most
            this many posts are yielded, and at most this many posts' worth
            of archive pages are read, by one :meth:`iter_archive` call.

    Attributes:
        failures: Number of posts that could not be fetched and were skipped.
    """

    def __init__(
        self,
        fetcher: SafeHttpClient,
        base_url: str,
        *,
        page_size: int = 12,
        pace_seconds: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
        max_posts: int = DEFAULT_MAX_POSTS,
    ) -> None:
        if page_size < 1:
            raise ValueError("page_size must be at least 1")
        if max_posts < 1:
            raise ValueError("max_posts must be at least 1")
        self.max_posts = max_posts
        self.fetcher = fetcher
        self.base_url = base_url.rstrip("/")
        self.page_size = page_size
        self.pace_seconds = pace_seconds
        self.failures = 0
        self._sleep = sleep
        self._requests = 0

    def iter_archive(self, max_posts: int | None = None) -> Iterator[SubstackPost]:
        """Yield the publication's text posts, newest first, with their bodies.

        Threads and other non-text types are skipped, as are podcasts with no
        text. A post whose page cannot be fetched is logged, counted in
        :attr:`failures` and skipped.

        Args:
            max_posts: Stop after yielding this many posts (``None``: as
                many as the client's ``max_posts`` cap allows; a larger value
                is cut to that cap).

        Yields:
            One :class:`SubstackPost` per post.

        Raises:
            FetchError: An archive page could not be fetched or is not a list.
        """
        limit = self.max_posts if max_posts is None else min(max_posts, self.max_posts)
        if limit <= 0:
            return
        yielded = 0
        for summary in self._iter_summaries():
            post = self._fetch_listed(summary)
            if post is None:
                continue
            yield post
            yielded += 1
            if yielded >= limit:
                return

    def fetch_post(self, slug: str) -> SubstackPost:
        """Fetch one post by slug.

        Args:
            slug: The post slug.

        Returns:
            The post, with ``body_html``.

        Raises:
            FetchError: The request failed or the answer is not a post.
        """
        return self._post_from(self._post_json(slug), {"slug": slug})

    def archive_page(self, offset: int) -> list[dict[str, Any]]:
        """Fetch one page of post summaries.

        Args:
            offset: Number of posts to skip (newest first).

        Returns:
            The summaries on that page (empty past the end).

        Raises:
            FetchError: The request failed or the answer is not a JSON list.
        """
        url = f"{self.base_url}/api/v1/archive?sort=new&offset={offset}&limit={self.page_size}"
        data = self._get_json(url)
        if not isinstance(data, list):
            raise FetchError(
                f"unexpected archive response at offset {offset}: {type(data).__name__}"
            )
        return [item for item in data if isinstance(item, dict)]

    def _iter_summaries(self) -> Iterator[dict[str, Any]]:
        """Text-post summaries across the archive pages (at most the cap's worth), each slug once."""
        seen: set[str] = set()
        offset = 0
        max_pages = math.ceil(self.max_posts / self.page_size)
        for page_number in range(max_pages + 1):
            if page_number == max_pages:
                log.warning(
                    "substack %s: stopping after %d archive pages (cap of %d posts)",
                    self.base_url,
                    max_pages,
                    self.max_posts,
                )
                return
            page = self.archive_page(offset)
            if not page:
                return
            new = 0
            for item in page:
                slug = _slug(item)
                if not slug or slug in seen:
                    continue
                seen.add(slug)
                new += 1
                if _post_type(item) in TEXT_POST_TYPES:
                    yield item
                else:
                    log.debug(
                        "substack %s: skipping %s post %s", self.base_url, _post_type(item), slug
                    )
            if not new:
                log.warning(
                    "substack %s: archive page at offset %d has no new posts; stopping",
                    self.base_url,
                    offset,
                )
                return
            offset += len(page)

    def _fetch_listed(self, summary: dict[str, Any]) -> SubstackPost | None:
        slug = _slug(summary)
        try:
            data = self._post_json(slug)
        except FetchError as exc:
            self.failures += 1
            log.warning("substack %s: skipping post %s: %s", self.base_url, slug, exc)
            return None
        post = self._post_from(data, summary)
        if post.post_type == "podcast" and not _has_text(post.body_html):
            log.debug("substack %s: skipping podcast %s without text", self.base_url, slug)
            return None
        return post

    def _post_json(self, slug: str) -> dict[str, Any]:
        data = self._get_json(f"{self.base_url}/api/v1/posts/{quote(slug, safe='')}")
        if not isinstance(data, dict):
            raise FetchError(f"unexpected response for post {slug!r}: {type(data).__name__}")
        return data

    def _get_json(self, url: str) -> Any:
        if self._requests and self.pace_seconds > 0:
            self._sleep(self.pace_seconds)
        self._requests += 1
        return self.fetcher.fetch_json(url)

    def _post_from(self, data: dict[str, Any], summary: dict[str, Any]) -> SubstackPost:
        def pick(key: str) -> Any:
            value = data.get(key)
            return summary.get(key) if value in (None, "") else value

        slug = _plain(pick("slug"))
        audience = _plain(pick("audience")) or "everyone"
        return SubstackPost(
            slug=slug,
            title=_text(pick("title")),
            subtitle=_text(pick("subtitle")),
            post_date=iso_date(pick("post_date")),
            canonical_url=_plain(pick("canonical_url")) or f"{self.base_url}/p/{slug}",
            audience=audience,
            paid=audience == "only_paid",
            body_html=_plain(data.get("body_html")),
            description=_text(pick("description")),
            post_id=_int_or_none(pick("id")),
            post_type=_plain(pick("type")) or "newsletter",
        )


def substack_base_from_url(url: str) -> str | None:
    """Derive a publication's base URL from a post or publication URL.

    ``https://name.substack.com/p/slug`` and
    ``https://open.substack.com/pub/name/p/slug`` give
    ``https://name.substack.com``; any other host (a custom domain) gives its
    root, e.g. ``https://www.example.com``.

    Args:
        url: A Substack post or publication URL.

    Returns:
        The base URL, or ``None`` when the URL is not http(s), has no host, or
        is a substack.com page that names no publication.
    """
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").rstrip(".").lower()
        port = parts.port
    except (AttributeError, ValueError):
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if host == _SUBSTACK_DOMAIN or host.endswith("." + _SUBSTACK_DOMAIN):
        return _substack_hosted_base(host, parts.path)
    netloc = host if port is None else f"{host}:{port}"
    return f"{parts.scheme.lower()}://{netloc}"


def iso_date(value: Any) -> str:
    """Turn a Substack ISO datetime (``2024-05-01T12:00:00.000Z``) into ``YYYY-MM-DD``.

    Args:
        value: The raw ``post_date`` value.

    Returns:
        The UTC date, or ``""`` when it cannot be read.
    """
    text = str(value or "").strip()
    if not text:
        return ""
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        match = _ISO_DATE.match(text)
        return match.group(0) if match else ""
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC)
    return parsed.date().isoformat()


def _substack_hosted_base(host: str, path: str) -> str | None:
    labels = host.split(".")
    if len(labels) == 3 and labels[0] not in _NON_PUBLICATION_SUBDOMAINS:
        return f"https://{labels[0]}.{_SUBSTACK_DOMAIN}"
    segments = [segment for segment in path.split("/") if segment]
    if host == f"open.{_SUBSTACK_DOMAIN}" and len(segments) >= 2 and segments[0] == "pub":
        return f"https://{segments[1].lower()}.{_SUBSTACK_DOMAIN}"
    return None


def _slug(item: dict[str, Any]) -> str:
    return _plain(item.get("slug")).strip()


def _post_type(item: dict[str, Any]) -> str:
    return str(item.get("type") or "newsletter")


def _plain(value: Any) -> str:
    """``value`` as a string that encodes as UTF-8 (``""`` for None/empty)."""
    return scrub_text(str(value or ""))


def _text(value: Any) -> str:
    return " ".join(_plain(value).split())


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _has_text(body_html: str) -> bool:
    if not body_html.strip():
        return False
    return bool(BeautifulSoup(body_html, "lxml").get_text(strip=True))

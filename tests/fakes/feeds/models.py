"""What the fake feed server serves and records: entries, posts, faults, content types."""

from __future__ import annotations

import email.utils
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import Message

#: One logger for the whole fake (the name it always had).
log = logging.getLogger("tests.fakes.feeds")

RSS_TYPE = "application/rss+xml; charset=utf-8"
ATOM_TYPE = "application/atom+xml; charset=utf-8"
JSON_TYPE = "application/json; charset=utf-8"
DEFAULT_DATE = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
MALFORMED_XML = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
    b"<title>Broken & unescaped</title><<not-a-tag>></channel"
)
_CHUNK = 64 * 1024
TRICKLE_FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Slow</title>'
    b"<item><title>Eventually</title><guid>slow-1</guid></item></channel></rss>\n"
)
ENDLESS_PREFIX = "endless-"


@dataclass
class FakeEntry:
    """One feed item as the test wants it served.

    Attributes:
        title: Item title (escaped when rendered).
        link: Item link; a path like ``/p/x`` is made absolute on this server.
        guid: GUID / Atom id; ``None`` leaves the element out.
        published: Publication time (RSS ``pubDate``, Atom ``published``).
        updated: Atom ``updated`` (defaults to ``published``).
        summary: RSS ``description`` / Atom ``summary`` (HTML, escaped).
        content: Full HTML (``content:encoded`` / Atom ``content``); ``None``
            leaves it out.
        author: Author name; ``""`` leaves it out.
    """

    title: str
    link: str
    guid: str | None = None
    published: datetime = DEFAULT_DATE
    updated: datetime | None = None
    summary: str = ""
    content: str | None = None
    author: str = ""


@dataclass
class FakePost:
    """One Substack post served by the fake ``/api/v1`` endpoints.

    Attributes:
        slug: URL slug.
        title: Title.
        post_date: Publication time (archive is sorted newest first).
        body_html: Body returned by ``/api/v1/posts/<slug>`` (serve only a
            preview for paid posts, as Substack does).
        subtitle: Subtitle.
        audience: ``"everyone"``, ``"only_paid"``, ...
        type: ``"newsletter"``, ``"podcast"``, ``"thread"``, ...
        description: Short description.
        id: Numeric id (assigned from a counter when ``None``).
    """

    slug: str
    title: str
    post_date: datetime = DEFAULT_DATE
    body_html: str = "<p>Body.</p>"
    subtitle: str = ""
    audience: str = "everyone"
    type: str = "newsletter"
    description: str = ""
    id: int | None = None


@dataclass
class RecordedRequest:
    """A request the server received.

    Attributes:
        method: HTTP method.
        path: Path without the query string.
        query: Raw query string.
        headers: Request headers with lower-cased names.
    """

    method: str
    path: str
    query: str
    headers: dict[str, str]


@dataclass
class _Resource:
    body: bytes
    content_type: str
    etag: str
    last_modified: str


@dataclass
class _Fault:
    kind: str
    status: int = 500
    delay: float = 0.0
    size: int = 0
    target: str = ""
    declare_length: bool = True
    body: bytes = b""
    encoding: str = ""
    content_type: str = RSS_TYPE


@dataclass
class _State:
    resources: dict[str, _Resource] = field(default_factory=dict)
    posts: dict[str, FakePost] = field(default_factory=dict)
    faults: dict[str, _Fault] = field(default_factory=dict)
    requests: list[RecordedRequest] = field(default_factory=list)
    last_modified: datetime | None = None
    endless_archive: bool = False


def _not_modified(headers: Message, resource: _Resource) -> bool:
    """RFC 9110 precedence: If-None-Match wins over If-Modified-Since."""
    if_none_match = headers.get("If-None-Match")
    if if_none_match:
        tags = [tag.strip().removeprefix("W/") for tag in if_none_match.split(",")]
        return "*" in tags or resource.etag in tags
    if_modified_since = headers.get("If-Modified-Since")
    if not if_modified_since:
        return False
    try:
        since = email.utils.parsedate_to_datetime(if_modified_since)
    except (TypeError, ValueError):
        return False
    return email.utils.parsedate_to_datetime(resource.last_modified) <= since


def _endless_post(number: int) -> FakePost:
    """Post ``number`` of the endless archive (newest first: higher numbers are older)."""
    return FakePost(
        slug=f"{ENDLESS_PREFIX}{number}",
        title=f"Endless {number}",
        post_date=DEFAULT_DATE - timedelta(hours=number),
        id=10_000_000 + number,
    )


def _atom_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _int_param(params: dict[str, list[str]], name: str, default: int) -> int:
    try:
        return max(0, int(params[name][0]))
    except (KeyError, IndexError, ValueError):
        return default

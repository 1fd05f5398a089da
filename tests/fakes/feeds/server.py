"""The fake feed server's public API: :class:`FakeFeedServer` (feeds, posts, faults, records)."""

from __future__ import annotations

import email.utils
import hashlib
import json
import threading
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from http.server import ThreadingHTTPServer
from urllib.parse import parse_qs
from xml.sax.saxutils import escape, quoteattr

from .handler import _Handler
from .models import (
    ATOM_TYPE,
    DEFAULT_DATE,
    ENDLESS_PREFIX,
    RSS_TYPE,
    FakeEntry,
    FakePost,
    RecordedRequest,
    _atom_time,
    _endless_post,
    _Fault,
    _int_param,
    _Resource,
    _State,
)


class FakeFeedServer:
    """Threaded HTTP server on 127.0.0.1 serving scripted feeds and faults.

    Use as a context manager; :attr:`base_url` is ``http://127.0.0.1:<port>``.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._state = _State()
        self._stopping = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._httpd.daemon_threads = True
        self._httpd.fake = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.01},
            name="fake-feed-server",
            daemon=True,
        )
        self._next_post_id = 1000

    def __enter__(self) -> FakeFeedServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Start serving in the background thread."""
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, wake slow handlers and close the socket (idempotent)."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on this server."""
        return self.base_url + (path if path.startswith("/") else "/" + path)

    # Content -----------------------------------------------------------------

    def set_feed(
        self,
        path: str,
        entries: Iterable[FakeEntry],
        *,
        kind: str = "rss",
        title: str = "Fake Digest",
    ) -> None:
        """Serve (or replace) a feed at ``path``.

        Args:
            path: Path to serve it at, e.g. ``/feed.xml``.
            entries: Items, newest first as feeds usually list them.
            kind: ``"rss"`` (RSS 2.0) or ``"atom"``.
            title: Feed title.
        """
        items = list(entries)
        if kind == "rss":
            body, content_type = self._rss(items, title), RSS_TYPE
        elif kind == "atom":
            body, content_type = self._atom(path, items, title), ATOM_TYPE
        else:
            raise ValueError(f"unknown feed kind {kind!r}")
        self.set_raw(path, body.encode("utf-8"), content_type)

    def set_raw(self, path: str, body: bytes, content_type: str) -> None:
        """Serve arbitrary bytes at ``path`` with ETag/Last-Modified validators.

        The Last-Modified time only moves when the body changes, and always
        moves forward by at least a second, so If-Modified-Since works.
        """
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        with self._lock:
            current = self._state.resources.get(path)
            if current is not None and current.etag == etag:
                return
            stamp = self._next_modified_time()
            self._state.resources[path] = _Resource(
                body, content_type, etag, email.utils.format_datetime(stamp, usegmt=True)
            )

    def remove(self, path: str) -> None:
        """Stop serving ``path`` (it then answers 404)."""
        with self._lock:
            self._state.resources.pop(path, None)

    def add_post(self, post: FakePost) -> FakePost:
        """Register a Substack post for ``/api/v1/archive`` and ``/api/v1/posts/<slug>``."""
        with self._lock:
            if post.id is None:
                self._next_post_id += 1
                post.id = self._next_post_id
            self._state.posts[post.slug] = post
        return post

    def set_posts(self, posts: Iterable[FakePost]) -> None:
        """Replace all Substack posts."""
        with self._lock:
            self._state.posts.clear()
        for post in posts:
            self.add_post(post)

    # Faults ------------------------------------------------------------------

    def fail(self, path: str, status: int = 500) -> None:
        """Answer every request for ``path`` with ``status``."""
        self._set_fault(path, _Fault("status", status=status))

    def slow(self, path: str, delay: float = 2.0) -> None:
        """Wait ``delay`` seconds before answering ``path`` normally."""
        self._set_fault(path, _Fault("slow", delay=delay))

    def malformed(self, path: str) -> None:
        """Serve broken XML (no usable entries) at ``path``."""
        self._set_fault(path, _Fault("malformed"))

    def oversized(self, path: str, size: int, *, declare_length: bool = True) -> None:
        """Serve a ``size``-byte body at ``path``.

        Args:
            path: The path.
            size: Body size in bytes.
            declare_length: Send ``Content-Length``; when false the body is
                close-delimited, so the client must count while streaming.
        """
        self._set_fault(path, _Fault("oversized", size=size, declare_length=declare_length))

    def redirect(self, path: str, to: str, status: int = 302) -> None:
        """Redirect ``path`` to ``to`` (a path or absolute URL)."""
        self._set_fault(path, _Fault("redirect", status=status, target=to))

    def redirect_loop(self, path: str) -> None:
        """Make ``path`` redirect to itself forever."""
        self.redirect(path, path)

    def trickle_headers(self, path: str, interval: float = 0.5, padding: int = 200) -> None:
        """Send the status line and headers of ``path`` one byte every ``interval`` s.

        The body (a small valid feed) follows at full speed once the headers
        are out, which with the default ``padding`` header takes minutes.
        """
        self._set_fault(path, _Fault("trickle_headers", delay=interval, size=padding))

    def trickle_body(self, path: str, interval: float = 0.5) -> None:
        """Send the headers of ``path`` at once, then its body one byte every ``interval`` s."""
        self._set_fault(path, _Fault("trickle_body", delay=interval))

    def encoded(
        self,
        path: str,
        body: bytes,
        content_encoding: str,
        content_type: str = RSS_TYPE,
    ) -> None:
        """Serve ``body`` as is at ``path``, labelled with ``Content-Encoding``.

        Args:
            path: The path.
            body: The already-encoded bytes (e.g. gzip of gzip of zeros).
            content_encoding: Header value, e.g. ``"gzip, gzip"``.
            content_type: ``Content-Type`` header value.
        """
        fault = _Fault("encoded", body=body, encoding=content_encoding, content_type=content_type)
        self._set_fault(path, fault)

    def endless_archive(self, enabled: bool = True) -> None:
        """Make ``/api/v1/archive`` answer every offset with a full page of new posts.

        Each listed post (slug ``endless-<n>``) is also served by
        ``/api/v1/posts/<slug>``, so a client without a cap never stops.
        """
        with self._lock:
            self._state.endless_archive = enabled

    def clear_fault(self, path: str) -> None:
        """Serve ``path`` normally again."""
        with self._lock:
            self._state.faults.pop(path, None)

    # Request log -------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        """A copy of all requests received so far, in order."""
        with self._lock:
            return list(self._state.requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        """The requests received for ``path`` (query ignored)."""
        return [request for request in self.requests if request.path == path]

    # Internals used by the handler -------------------------------------------

    def _set_fault(self, path: str, fault: _Fault) -> None:
        with self._lock:
            self._state.faults[path] = fault

    def _record(self, request: RecordedRequest) -> None:
        with self._lock:
            self._state.requests.append(request)

    def _lookup(self, path: str) -> tuple[_Fault | None, _Resource | None]:
        with self._lock:
            return self._state.faults.get(path), self._state.resources.get(path)

    def _sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _next_modified_time(self) -> datetime:
        now = datetime.now(UTC).replace(microsecond=0)
        previous = self._state.last_modified
        stamp = now if previous is None or now > previous else previous + timedelta(seconds=1)
        self._state.last_modified = stamp
        return stamp

    def _archive_json(self, query: str) -> bytes:
        params = parse_qs(query)
        offset = _int_param(params, "offset", 0)
        limit = _int_param(params, "limit", 12)
        with self._lock:
            endless = self._state.endless_archive
            posts = sorted(
                self._state.posts.values(), key=lambda post: post.post_date, reverse=True
            )
        if endless:
            posts = [_endless_post(number) for number in range(offset, offset + limit)]
            offset = 0
        page = posts[offset : offset + limit]
        return json.dumps([self._post_summary(post) for post in page]).encode("utf-8")

    def _post_json(self, slug: str) -> bytes | None:
        with self._lock:
            post = self._state.posts.get(slug)
            endless = self._state.endless_archive
        if post is None and endless and slug.startswith(ENDLESS_PREFIX):
            number = slug.removeprefix(ENDLESS_PREFIX)
            post = _endless_post(int(number)) if number.isdigit() else None
        if post is None:
            return None
        data = self._post_summary(post)
        data["body_html"] = post.body_html
        return json.dumps(data).encode("utf-8")

    def _post_summary(self, post: FakePost) -> dict[str, object]:
        return {
            "id": post.id,
            "slug": post.slug,
            "title": post.title,
            "subtitle": post.subtitle,
            "post_date": post.post_date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
            "canonical_url": self.url(f"/p/{post.slug}"),
            "audience": post.audience,
            "type": post.type,
            "description": post.description,
        }

    def _absolute(self, link: str) -> str:
        return self.url(link) if link.startswith("/") else link

    def _rss(self, entries: list[FakeEntry], title: str) -> str:
        items = "".join(self._rss_item(entry) for entry in entries)
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n'
            '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">\n<channel>\n'
            f"<title>{escape(title)}</title>\n<link>{escape(self.base_url)}/</link>\n"
            f"<description>{escape(title)} feed</description>\n{items}</channel>\n</rss>\n"
        )

    def _rss_item(self, entry: FakeEntry) -> str:
        parts = [
            f"<title>{escape(entry.title)}</title>",
            f"<link>{escape(self._absolute(entry.link))}</link>",
        ]
        if entry.guid is not None:
            parts.append(f'<guid isPermaLink="false">{escape(entry.guid)}</guid>')
        parts.append(
            f"<pubDate>{email.utils.format_datetime(entry.published.astimezone(UTC), usegmt=True)}</pubDate>"
        )
        parts.append(f"<description>{escape(entry.summary)}</description>")
        if entry.content is not None:
            parts.append(f"<content:encoded>{escape(entry.content)}</content:encoded>")
        if entry.author:
            parts.append(f"<dc:creator>{escape(entry.author)}</dc:creator>")
        return "<item>" + "".join(parts) + "</item>\n"

    def _atom(self, path: str, entries: list[FakeEntry], title: str) -> str:
        newest = max((entry.updated or entry.published for entry in entries), default=DEFAULT_DATE)
        body = "".join(self._atom_entry(entry) for entry in entries)
        return (
            '<?xml version="1.0" encoding="utf-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
            f"<title>{escape(title)}</title>\n<id>{escape(self.url(path))}</id>\n"
            f'<link rel="self" href={quoteattr(self.url(path))}/>\n'
            f"<updated>{_atom_time(newest)}</updated>\n{body}</feed>\n"
        )

    def _atom_entry(self, entry: FakeEntry) -> str:
        parts = [f'<title type="text">{escape(entry.title)}</title>']
        parts.append(
            f'<link rel="alternate" type="text/html" href={quoteattr(self._absolute(entry.link))}/>'
        )
        if entry.guid is not None:
            parts.append(f"<id>{escape(entry.guid)}</id>")
        parts.append(f"<published>{_atom_time(entry.published)}</published>")
        parts.append(f"<updated>{_atom_time(entry.updated or entry.published)}</updated>")
        parts.append(f'<summary type="html">{escape(entry.summary)}</summary>')
        if entry.content is not None:
            parts.append(f'<content type="html">{escape(entry.content)}</content>')
        if entry.author:
            parts.append(f"<author><name>{escape(entry.author)}</name></author>")
        return "<entry>" + "".join(parts) + "</entry>\n"

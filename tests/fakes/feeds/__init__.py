"""A real local HTTP server for feed and Substack tests.

:class:`FakeFeedServer` listens on ``127.0.0.1`` (a free port) in a background
thread. Tests register RSS 2.0 / Atom feeds built from :class:`FakeEntry`
objects (and may change them between polls), Substack API posts
(:class:`FakePost`), or raw documents, and can script faults per path: an HTTP
error status, a slow answer, malformed XML, an oversized body, a redirect loop
or a redirect to another path. Hostile modes imitate servers that attack the
client: headers or body trickled a byte at a time, a body with any
``Content-Encoding`` (a gzip bomb), and a Substack archive that never ends.
Every request is recorded with its headers.
ETag and Last-Modified validators are served, and conditional requests get a
real ``304 Not Modified``.

Example::

    with FakeFeedServer() as server:
        server.set_feed("/feed.xml", [FakeEntry("Issue 1", "/p/1", guid="1")])
        fetcher.fetch(server.url("/feed.xml"))

The implementation: models, server, handler.
"""

from .models import (
    ATOM_TYPE,
    DEFAULT_DATE,
    ENDLESS_PREFIX,
    JSON_TYPE,
    MALFORMED_XML,
    RSS_TYPE,
    TRICKLE_FEED,
    FakeEntry,
    FakePost,
    RecordedRequest,
)
from .server import FakeFeedServer

__all__ = [
    "ATOM_TYPE",
    "DEFAULT_DATE",
    "ENDLESS_PREFIX",
    "JSON_TYPE",
    "MALFORMED_XML",
    "RSS_TYPE",
    "TRICKLE_FEED",
    "FakeEntry",
    "FakeFeedServer",
    "FakePost",
    "RecordedRequest",
]

"""The fake feed / Substack server, split into :mod:`.models` (what it serves and records),
:mod:`.server` (:class:`FakeFeedServer`, the API tests script) and :mod:`.handler` (the HTTP
handler). ``tests.fakes.feed_server`` re-exports the public names."""

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

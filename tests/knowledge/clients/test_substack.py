"""Tests for knowledge.clients.substack against the fake local Substack API."""

from __future__ import annotations

import inspect
import json
from datetime import UTC, datetime, timedelta

import pytest

from knowledge.clients.feeds import FeedFetcher
from knowledge.clients.http import FetchError
from knowledge.clients.substack import (
    SubstackClient,
    SubstackPost,
    iso_date,
    substack_base_from_url,
)
from tests.fakes.feeds import FakeFeedServer, FakePost

START = datetime(2024, 1, 1, 15, 0, tzinfo=UTC)


class FakeSleep:
    """Records requested pauses instead of sleeping."""

    def __init__(self) -> None:
        self.calls: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.calls.append(seconds)


@pytest.fixture
def sleep() -> FakeSleep:
    return FakeSleep()


def _client(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep, **kwargs: object
) -> SubstackClient:
    options: dict[str, object] = {"page_size": 3, "pace_seconds": 0.5, "sleep": sleep}
    options.update(kwargs)
    return SubstackClient(fetcher, server.base_url, **options)  # type: ignore[arg-type]


def _publish(server: FakeFeedServer, count: int) -> list[FakePost]:
    posts = [
        FakePost(
            slug=f"issue-{n}",
            title=f"Issue {n}",
            subtitle=f"Subtitle {n}",
            description=f"About issue {n}",
            post_date=START + timedelta(days=n),
            body_html=f"<p>Body of issue {n}</p>",
        )
        for n in range(1, count + 1)
    ]
    server.set_posts(posts)
    return posts


def _archive_offsets(server: FakeFeedServer) -> list[str]:
    return [request.query for request in server.requests_to("/api/v1/archive")]


def test_archive_is_paged_newest_first(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    _publish(server, 7)
    client = _client(server, fetcher, sleep)

    posts = list(client.iter_archive())

    assert [post.slug for post in posts] == [f"issue-{n}" for n in range(7, 0, -1)]
    assert _archive_offsets(server) == [
        "sort=new&offset=0&limit=3",
        "sort=new&offset=3&limit=3",
        "sort=new&offset=6&limit=3",
        "sort=new&offset=7&limit=3",
    ]
    assert posts[0] == SubstackPost(
        slug="issue-7",
        title="Issue 7",
        subtitle="Subtitle 7",
        post_date="2024-01-08",
        canonical_url=server.url("/p/issue-7"),
        audience="everyone",
        paid=False,
        body_html="<p>Body of issue 7</p>",
        description="About issue 7",
        post_id=posts[0].post_id,
        post_type="newsletter",
    )
    assert isinstance(posts[0].post_id, int)
    assert client.failures == 0


def test_requests_are_paced_with_injected_sleep(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    _publish(server, 4)
    client = _client(server, fetcher, sleep, pace_seconds=1.5)

    list(client.iter_archive())

    total_requests = len(server.requests)
    assert total_requests == 3 + 4  # archive pages at offsets 0, 3, 4 + four posts
    assert sleep.calls == [1.5] * (total_requests - 1)


def test_no_sleep_when_pace_is_zero(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    _publish(server, 2)
    list(_client(server, fetcher, sleep, pace_seconds=0).iter_archive())
    assert sleep.calls == []


def test_paid_posts_are_flagged(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    server.add_post(FakePost("free", "Free issue", START, "<p>All of it</p>"))
    server.add_post(
        FakePost(
            "paid",
            "Paid issue",
            START + timedelta(days=1),
            "<p>Preview only…</p>",
            audience="only_paid",
        )
    )
    server.add_post(
        FakePost("founders", "Founding", START + timedelta(days=2), "<p>x</p>", audience="founding")
    )

    posts = {post.slug: post for post in _client(server, fetcher, sleep).iter_archive()}

    assert posts["paid"].paid is True
    assert posts["paid"].audience == "only_paid"
    assert posts["paid"].body_html == "<p>Preview only…</p>"
    assert posts["free"].paid is False
    assert posts["founders"].paid is False


def test_failing_post_is_skipped_and_counted(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep, caplog: pytest.LogCaptureFixture
) -> None:
    _publish(server, 5)
    server.fail("/api/v1/posts/issue-4", 500)
    server.set_raw("/api/v1/posts/issue-2", b"<html>oops</html>", "text/html")
    client = _client(server, fetcher, sleep)

    with caplog.at_level("WARNING", logger="knowledge.clients.substack"):
        slugs = [post.slug for post in client.iter_archive()]

    assert slugs == ["issue-5", "issue-3", "issue-1"]
    assert client.failures == 2
    assert "issue-4" in caplog.text and "HTTP 500" in caplog.text
    assert "invalid JSON" in caplog.text


def test_max_posts_stops_early(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    _publish(server, 9)
    client = _client(server, fetcher, sleep)

    posts = list(client.iter_archive(max_posts=4))

    assert [post.slug for post in posts] == ["issue-9", "issue-8", "issue-7", "issue-6"]
    assert _archive_offsets(server) == ["sort=new&offset=0&limit=3", "sort=new&offset=3&limit=3"]
    assert len(server.requests_to("/api/v1/posts/issue-5")) == 0
    assert list(client.iter_archive(max_posts=0)) == []


def test_threads_and_textless_podcasts_are_skipped(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    server.add_post(FakePost("essay", "Essay", START, "<p>Words</p>"))
    server.add_post(FakePost("chat", "Chat", START + timedelta(days=1), "<p>hi</p>", type="thread"))
    server.add_post(
        FakePost("pod-text", "Pod", START + timedelta(days=2), "<p>Transcript</p>", type="podcast")
    )
    server.add_post(
        FakePost("pod-audio", "Audio", START + timedelta(days=3), "<div> </div>", type="podcast")
    )

    posts = list(_client(server, fetcher, sleep).iter_archive())

    assert [(post.slug, post.post_type) for post in posts] == [
        ("pod-text", "podcast"),
        ("essay", "newsletter"),
    ]
    assert server.requests_to("/api/v1/posts/chat") == []


def test_archive_ignoring_offset_does_not_loop_forever(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    page = [
        {
            "slug": "same",
            "title": "Same",
            "type": "newsletter",
            "post_date": "2024-02-02T10:00:00.000Z",
        }
    ]
    server.set_raw("/api/v1/archive", json.dumps(page).encode(), "application/json")
    server.add_post(FakePost("same", "Same", START))

    posts = list(_client(server, fetcher, sleep).iter_archive())

    assert [post.slug for post in posts] == ["same"]
    assert len(server.requests_to("/api/v1/archive")) == 2


def test_archive_failure_raises(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    server.fail("/api/v1/archive", 503)
    with pytest.raises(FetchError, match="HTTP 503"):
        list(_client(server, fetcher, sleep).iter_archive())


def test_archive_must_be_a_list(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    server.set_raw("/api/v1/archive", b'{"error": "nope"}', "application/json")
    with pytest.raises(FetchError, match="unexpected archive response"):
        list(_client(server, fetcher, sleep).iter_archive())


def test_fetch_post(server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep) -> None:
    server.add_post(
        FakePost(
            "deep-dive", "Deep dive", START, "<h2>Part 1</h2><p>Text</p>", subtitle="Long read"
        )
    )
    client = _client(server, fetcher, sleep)

    post = client.fetch_post("deep-dive")

    assert post.slug == "deep-dive"
    assert post.title == "Deep dive"
    assert post.subtitle == "Long read"
    assert post.post_date == "2024-01-01"
    assert post.body_html == "<h2>Part 1</h2><p>Text</p>"
    with pytest.raises(FetchError, match="HTTP 404"):
        client.fetch_post("missing")


def test_default_fetcher_refuses_local_publication(
    server: FakeFeedServer, sleep: FakeSleep
) -> None:
    _publish(server, 1)
    client = SubstackClient(FeedFetcher(), server.base_url, sleep=sleep)
    with pytest.raises(FetchError, match="loopback"):
        list(client.iter_archive())
    assert server.requests == []


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://importai.substack.com/p/import-ai-370", "https://importai.substack.com"),
        ("http://ImportAI.substack.com/", "https://importai.substack.com"),
        ("https://importai.substack.com", "https://importai.substack.com"),
        (
            "https://open.substack.com/pub/importai/p/import-ai-370?r=abc",
            "https://importai.substack.com",
        ),
        ("https://www.interconnects.ai/p/some-post", "https://www.interconnects.ai"),
        ("http://127.0.0.1:8123/p/x", "http://127.0.0.1:8123"),
        ("https://substack.com/@someone", None),
        ("https://www.substack.com/home", None),
        ("ftp://importai.substack.com/p/x", None),
        ("not a url", None),
        ("", None),
    ],
)
def test_substack_base_from_url(url: str, base: str | None) -> None:
    assert substack_base_from_url(url) == base


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("2024-05-01T12:00:00.000Z", "2024-05-01"),
        ("2024-05-01T23:30:00-05:00", "2024-05-02"),
        ("2024-05-01", "2024-05-01"),
        ("2024-05-01 garbage", "2024-05-01"),
        ("", ""),
        (None, ""),
        ("yesterday", ""),
    ],
)
def test_iso_date(raw: object, expected: str) -> None:
    assert iso_date(raw) == expected


def test_endless_archive_stops_at_the_post_cap(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    server.endless_archive()
    client = _client(server, fetcher, sleep, max_posts=10)

    posts = client.iter_archive()
    assert inspect.isgenerator(posts)  # streamed, not collected
    slugs = [post.slug for post in posts]

    assert slugs == [f"endless-{n}" for n in range(10)]
    assert len(server.requests_to("/api/v1/archive")) == 4  # ceil(10 / 3) pages


def test_explicit_max_posts_cannot_exceed_the_cap(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    server.endless_archive()
    client = _client(server, fetcher, sleep, max_posts=5)

    assert len(list(client.iter_archive(max_posts=1000))) == 5
    assert len(list(client.iter_archive(max_posts=2))) == 2


def test_endless_archive_ends_with_the_default_cap(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    server.endless_archive()
    client = _client(server, fetcher, sleep, page_size=50, pace_seconds=0)

    assert client.max_posts == 500
    assert sum(1 for _post in client.iter_archive()) == 500
    assert len(server.requests_to("/api/v1/archive")) == 10


def test_endless_archive_of_failing_posts_still_ends(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    server.endless_archive()
    for n in range(6):
        server.fail(f"/api/v1/posts/endless-{n}", 500)
    client = _client(server, fetcher, sleep, max_posts=6)

    assert list(client.iter_archive()) == []
    assert client.failures == 6
    assert len(server.requests_to("/api/v1/archive")) == 2


def test_max_posts_must_be_positive(fetcher: FeedFetcher) -> None:
    with pytest.raises(ValueError, match="max_posts"):
        SubstackClient(fetcher, "https://x.substack.com", max_posts=0)


def test_lone_surrogate_in_a_post_does_not_poison_it(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    server.add_post(
        FakePost(
            "bad-title",
            "Bad \ud800 title",
            START,
            "<p>Body \udfff with a lone surrogate</p>",
            subtitle="Sub \ud83d",
        )
    )
    server.add_post(FakePost("fine", "Fine", START - timedelta(days=1)))

    posts = list(_client(server, fetcher, sleep).iter_archive())

    assert [post.slug for post in posts] == ["bad-title", "fine"]
    bad = posts[0]
    assert bad.title == "Bad \ufffd title"
    assert bad.subtitle == "Sub \ufffd"
    assert bad.body_html == "<p>Body \ufffd with a lone surrogate</p>"
    for post in posts:
        for text in (post.title, post.subtitle, post.body_html, post.description, post.slug):
            text.encode("utf-8")


def test_invalid_utf8_byte_in_a_post_is_replaced(
    server: FakeFeedServer, fetcher: FeedFetcher, sleep: FakeSleep
) -> None:
    server.set_raw(
        "/api/v1/posts/latin",
        b'{"slug": "latin", "title": "Caf\xe9 notes", "body_html": "<p>ok</p>"}',
        "application/json",
    )

    post = _client(server, fetcher, sleep).fetch_post("latin")

    assert (post.title, post.body_html) == ("Caf\ufffd notes", "<p>ok</p>")

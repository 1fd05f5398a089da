"""Tests for knowledge.clients.feeds against a real local HTTP server."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import httpx
import pytest

from knowledge.clients.entries import FeedEntry, canonical_link
from knowledge.clients.feeds import FeedFetcher, parse_feed
from knowledge.clients.http import FetchError
from tests.fakes.feeds import FakeEntry, FakeFeedServer

MAY_1 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
MAY_8 = datetime(2024, 5, 8, 23, 15, tzinfo=UTC)






def _issue(number: int, **overrides: object) -> FakeEntry:
    values: dict[str, object] = {
        "title": f"Issue #{number}",
        "link": f"/p/issue-{number}",
        "guid": f"issue-{number}",
        "published": MAY_1,
        "summary": f"<p>Summary {number}</p>",
        "content": f"<p>Full text of issue {number}</p>",
        "author": "Ada",
    }
    values.update(overrides)
    return FakeEntry(**values)  # type: ignore[arg-type]


def test_rss_feed_is_parsed(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.set_feed(
        "/rss.xml",
        [
            _issue(
                2,
                title="Attention & <Transformers>",
                published=MAY_8,
                content='<p>A &amp; B <a href="/x">x</a></p>',
            ),
            _issue(1),
        ],
        title="Import AI & Friends",
    )

    result = fetcher.fetch(server.url("/rss.xml"))

    assert result.status == "ok", result.error
    assert result.ok
    assert result.http_status == 200
    assert result.feed_title == "Import AI & Friends"
    assert [entry.guid for entry in result.entries] == ["issue-2", "issue-1"]
    newest = result.entries[0]
    assert newest == FeedEntry(
        guid="issue-2",
        link=server.url("/p/issue-2"),
        title="Attention & <Transformers>",
        published="2024-05-08",
        updated="2024-05-08T23:15:00Z",
        summary_html="<p>Summary 2</p>",
        content_html=f'<p>A &amp; B <a href="{server.url("/x")}">x</a></p>',
        author="Ada",
    )
    assert result.etag and result.last_modified


def test_atom_feed_is_parsed(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    updated = datetime(2024, 5, 9, 6, 0, tzinfo=UTC)
    server.set_feed(
        "/atom.xml",
        [
            _issue(
                7,
                guid="tag:digest.example,2024:7",
                published=MAY_8,
                updated=updated,
                title="Q&A <live>",
            )
        ],
        kind="atom",
        title="Atom Digest",
    )

    result = fetcher.fetch(server.url("/atom.xml"))

    assert result.status == "ok", result.error
    assert result.feed_title == "Atom Digest"
    (entry,) = result.entries
    assert entry.guid == "tag:digest.example,2024:7"
    assert entry.link == server.url("/p/issue-7")
    assert entry.title == "Q&A <live>"
    assert entry.published == "2024-05-08"
    assert entry.updated == "2024-05-09T06:00:00Z"
    assert entry.summary_html == "<p>Summary 7</p>"
    assert entry.content_html == "<p>Full text of issue 7</p>"
    assert entry.author == "Ada"


def test_atom_entry_without_published_uses_updated_date() -> None:
    xml = b"""<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>T</title>
    <entry><id>urn:x:1</id><title>One</title><link href="https://d.example/1"/>
    <updated>2024-03-02T23:30:00-05:00</updated></entry></feed>"""
    (entry,) = parse_feed(xml, url="https://d.example/atom").entries
    assert entry.published == "2024-03-03"
    assert entry.updated == "2024-03-03T04:30:00Z"
    assert entry.content_html == ""


def test_conditional_get_returns_not_modified(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.set_feed("/feed", [_issue(1)])
    first = fetcher.fetch(server.url("/feed"))

    second = fetcher.fetch(server.url("/feed"), etag=first.etag, last_modified=first.last_modified)

    assert second.status == "not_modified"
    assert second.http_status == 304
    assert second.entries == []
    assert (second.etag, second.last_modified) == (first.etag, first.last_modified)
    sent = server.requests_to("/feed")[1].headers
    assert sent["if-none-match"] == first.etag
    assert sent["if-modified-since"] == first.last_modified
    assert "if-none-match" not in server.requests_to("/feed")[0].headers


def test_conditional_get_with_last_modified_only(
    server: FakeFeedServer, fetcher: FeedFetcher
) -> None:
    server.set_feed("/feed", [_issue(1)])
    first = fetcher.fetch(server.url("/feed"))

    second = fetcher.fetch(server.url("/feed"), last_modified=first.last_modified)

    assert second.status == "not_modified"


def test_changed_feed_is_fetched_again(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.set_feed("/feed", [_issue(1)])
    first = fetcher.fetch(server.url("/feed"))
    server.set_feed("/feed", [_issue(2, published=MAY_8), _issue(1)])

    second = fetcher.fetch(server.url("/feed"), etag=first.etag, last_modified=first.last_modified)

    assert second.status == "ok"
    assert [entry.guid for entry in second.entries] == ["issue-2", "issue-1"]
    assert second.etag != first.etag
    assert second.last_modified != first.last_modified


def test_http_500_is_an_error(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.set_feed("/feed", [_issue(1)])
    server.fail("/feed", 500)

    result = fetcher.fetch(
        server.url("/feed"), etag='"old"', last_modified="Wed, 01 May 2024 00:00:00 GMT"
    )

    assert result.status == "error"
    assert result.error == "HTTP 500"
    assert result.http_status == 500
    assert result.entries == []
    assert result.etag == '"old"'
    assert result.last_modified == "Wed, 01 May 2024 00:00:00 GMT"


def test_missing_feed_is_http_404(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    result = fetcher.fetch(server.url("/nothing-here"))
    assert (result.status, result.error, result.http_status) == ("error", "HTTP 404", 404)


def test_slow_server_times_out(server: FakeFeedServer) -> None:
    server.set_feed("/slow", [_issue(1)])
    server.slow("/slow", delay=3.0)
    started = time.monotonic()

    with FeedFetcher(timeout=0.3, allow_private=True) as fetcher:
        result = fetcher.fetch(server.url("/slow"))

    assert result.status == "error"
    assert result.error == "timed out after 0.3s"
    assert result.http_status is None
    assert time.monotonic() - started < 2.9  # cut off, not waiting out the 3 s delay


def test_malformed_xml_is_an_error(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.malformed("/broken")

    result = fetcher.fetch(server.url("/broken"))

    assert result.status == "error"
    assert result.error.startswith("malformed feed: ")
    assert "\n" not in result.error


def test_entries_survive_minor_breakage(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    truncated = (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>'
        b"<item><title>Kept</title><guid>k1</guid><link>https://d.example/k1</link></item>"
        b"<item><title>Cut off"
    )
    server.set_raw("/partial", truncated, "application/rss+xml")

    result = fetcher.fetch(server.url("/partial"))

    assert result.status == "ok"
    assert result.entries[0].guid == "k1"


def test_html_page_is_not_a_feed(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.set_raw("/page", b"<html><body><p>Hello</p></body></html>", "text/html; charset=utf-8")

    result = fetcher.fetch(server.url("/page"))

    assert result.status == "error"
    assert result.error.startswith("not an RSS or Atom feed")


def test_empty_feed_is_ok(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.set_feed("/empty", [], title="Nothing yet")
    result = fetcher.fetch(server.url("/empty"))
    assert (result.status, result.entries, result.feed_title) == ("ok", [], "Nothing yet")


@pytest.mark.parametrize("declare_length", [True, False])
def test_oversized_body_is_refused(server: FakeFeedServer, declare_length: bool) -> None:
    server.oversized("/big", size=200_000, declare_length=declare_length)

    with FeedFetcher(timeout=2.0, max_bytes=10_000, allow_private=True) as fetcher:
        result = fetcher.fetch(server.url("/big"))

    assert result.status == "error"
    assert result.error == "response larger than 10000 bytes"


def test_redirect_is_followed(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.set_feed("/new/feed.xml", [_issue(3, link="p/relative-3")])
    server.redirect("/old/feed", "/new/feed.xml", status=301)

    result = fetcher.fetch(server.url("/old/feed"))

    assert result.status == "ok", result.error
    assert [request.path for request in server.requests] == ["/old/feed", "/new/feed.xml"]
    # Relative links resolve against the final URL.
    assert result.entries[0].link == server.url("/new/p/relative-3")


def test_redirect_to_absolute_url(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.set_feed("/feed", [_issue(1)])
    server.redirect("/moved", server.url("/feed"), status=308)
    assert fetcher.fetch(server.url("/moved")).status == "ok"


def test_redirect_loop_is_an_error(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.redirect_loop("/loop")

    result = fetcher.fetch(server.url("/loop"))

    assert result.status == "error"
    assert result.error.startswith("redirect loop")
    assert len(server.requests_to("/loop")) == 1


def test_too_many_redirects(server: FakeFeedServer) -> None:
    server.set_feed("/c", [_issue(1)])
    server.redirect("/a", "/b")
    server.redirect("/b", "/c")

    with FeedFetcher(timeout=2.0, max_redirects=1, allow_private=True) as fetcher:
        result = fetcher.fetch(server.url("/a"))

    assert result.status == "error"
    assert result.error == "too many redirects (more than 1)"
    assert [request.path for request in server.requests] == ["/a", "/b"]


def test_redirect_without_location_is_an_error() -> None:
    transport = httpx.MockTransport(lambda request: httpx.Response(302))
    with FeedFetcher(transport=transport, allow_private=True) as fetcher:
        result = fetcher.fetch("https://feeds.example.org/rss")
    assert result.status == "error"
    assert "without a Location" in result.error


def test_each_redirect_hop_is_checked() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(302, headers={"Location": "http://127.0.0.1:8080/admin"})

    with FeedFetcher(transport=httpx.MockTransport(handler)) as fetcher:
        result = fetcher.fetch("http://93.184.216.34/feed")

    assert seen == ["http://93.184.216.34/feed"]
    assert result.status == "error"
    assert "loopback" in result.error


def test_loopback_refused_by_default(server: FakeFeedServer) -> None:
    server.set_feed("/feed", [_issue(1)])

    with FeedFetcher(timeout=2.0) as fetcher:
        result = fetcher.fetch(server.url("/feed"))

    assert result.status == "error"
    assert "loopback" in result.error
    assert server.requests == []


def test_non_http_url_is_an_error(fetcher: FeedFetcher) -> None:
    result = fetcher.fetch("file:///etc/passwd")
    assert result.status == "error"
    assert "only http and https" in result.error


def test_connection_refused_is_an_error(server: FakeFeedServer) -> None:
    url = server.url("/feed")
    server.stop()
    with FeedFetcher(timeout=1.0, allow_private=True) as fetcher:
        result = fetcher.fetch(url)
    assert result.status == "error"
    assert result.error.startswith("network error: ")


def test_duplicate_guids_keep_the_first(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.set_feed(
        "/dupes",
        [
            _issue(1, title="First copy"),
            _issue(2),
            _issue(1, title="Second copy", link="/p/other"),
        ],
    )

    result = fetcher.fetch(server.url("/dupes"))

    assert [(entry.guid, entry.title) for entry in result.entries] == [
        ("issue-1", "First copy"),
        ("issue-2", "Issue #2"),
    ]


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_missing_guid_falls_back_to_link(
    server: FakeFeedServer, fetcher: FeedFetcher, kind: str
) -> None:
    server.set_feed(
        "/noguid",
        [
            _issue(1, guid=None, link="/p/one?utm_source=rss&utm_medium=feed&ref=7"),
            _issue(2, guid=None),
            _issue(3, guid=None, link="/p/one?utm_campaign=x&ref=7"),
        ],
        kind=kind,
    )

    result = fetcher.fetch(server.url("/noguid"))

    expected = server.url("/p/one?ref=7")
    assert [entry.guid for entry in result.entries] == [expected, server.url("/p/issue-2")]
    assert result.entries[0].link == expected


def test_entry_without_guid_or_link_gets_stable_guid() -> None:
    xml = b'<rss version="2.0"><channel><title>T</title><item><title>Lonely</title></item></channel></rss>'
    first = parse_feed(xml).entries[0]
    again = parse_feed(xml).entries[0]
    assert first.guid.startswith("sha1:")
    assert first.guid == again.guid
    assert first.link == ""


def test_canonical_link_strips_only_tracking() -> None:
    assert (
        canonical_link(" https://a.example/p/x?utm_source=a&id=3#part ")
        == "https://a.example/p/x?id=3#part"
    )
    assert canonical_link("https://a.example/p/x?id=3") == "https://a.example/p/x?id=3"
    assert (
        canonical_link("https://a.example/utm_guide?q=a%20b")
        == "https://a.example/utm_guide?q=a%20b"
    )


def test_fetch_json_and_text(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.set_raw("/data.json", b'{"items": [1, 2]}', "application/json")
    server.set_raw(
        "/page.html", "<p>caf\xe9</p>".encode("latin-1"), "text/html; charset=iso-8859-1"
    )

    assert fetcher.fetch_json(server.url("/data.json")) == {"items": [1, 2]}
    assert fetcher.fetch_text(server.url("/page.html")) == "<p>caf\xe9</p>"
    assert server.requests_to("/data.json")[0].headers["accept"].startswith("application/json")


def test_fetch_json_errors(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.set_raw("/bad.json", b"{not json", "application/json")
    server.fail("/down.json", 503)
    server.oversized("/huge.json", size=50_000)

    with pytest.raises(FetchError, match="invalid JSON"):
        fetcher.fetch_json(server.url("/bad.json"))
    with pytest.raises(FetchError, match="^HTTP 503$"):
        fetcher.fetch_json(server.url("/down.json"))
    with pytest.raises(FetchError, match="larger than"):
        FeedFetcher(max_bytes=1000, allow_private=True).fetch_json(server.url("/huge.json"))
    with pytest.raises(FetchError, match="loopback"):
        FeedFetcher().fetch_text(server.url("/bad.json"))


def test_user_agent_is_sent(server: FakeFeedServer) -> None:
    server.set_feed("/feed", [_issue(1)])
    with FeedFetcher(allow_private=True, user_agent="digestbot-test/1.0") as fetcher:
        fetcher.fetch(server.url("/feed"))
    assert server.requests[0].headers["user-agent"] == "digestbot-test/1.0"


def test_parser_crash_becomes_an_error(
    server: FakeFeedServer, fetcher: FeedFetcher, monkeypatch: pytest.MonkeyPatch
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise RecursionError("maximum recursion depth exceeded")

    server.set_feed("/feed", [_issue(1)])
    monkeypatch.setattr("knowledge.clients.feeds.parse_feed", explode)

    result = fetcher.fetch(server.url("/feed"))

    assert result.status == "error"
    assert result.error == "could not parse feed: maximum recursion depth exceeded"
    assert result.http_status == 200


def test_one_fetcher_serves_several_threads(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    for n in range(8):
        server.set_feed(f"/feed-{n}", [_issue(n)])

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(lambda n: fetcher.fetch(server.url(f"/feed-{n}")), range(8)))

    assert [result.entries[0].guid for result in results] == [f"issue-{n}" for n in range(8)]

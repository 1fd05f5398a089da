"""FeedFetcher against hostile servers: trickled responses, compression bombs,
DNS rebinding, endless feeds and bad characters.

Everything goes through the real local fake server (tests/fakes/feeds/).
The only thing replaced is the DNS resolver (``socket.getaddrinfo``), which
cannot run here; a guard makes sure no socket ever leaves 127.0.0.1.
"""

from __future__ import annotations

import gzip
import socket
import time
import tracemalloc
import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from knowledge.clients.feeds import FeedFetcher
from knowledge.clients.http import FetchError, scrub_text
from knowledge.config import Settings
from tests.fakes.feeds import RSS_TYPE, FakeEntry, FakeFeedServer

PUBLIC_IP = "93.184.216.34"
GENEROUS_BOUND = 15.0  # seconds: a functional bound (the trickle takes minutes), not a benchmark
FEED = (
    b'<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel><title>Zipped</title>'
    b"<item><title>One</title><guid>z1</guid></item>"
    b"<item><title>Two</title><guid>z2</guid></item></channel></rss>\n"
)


# 1. Total deadline -------------------------------------------------------------


def _timed_fetch(server: FakeFeedServer, path: str, timeout: float = 2.0) -> tuple[float, str]:
    started = time.monotonic()
    with FeedFetcher(timeout=timeout, allow_private=True) as fetcher:
        result = fetcher.fetch(server.url(path))
    assert result.status == "error"
    assert result.http_status is None
    return time.monotonic() - started, result.error


def test_trickled_headers_hit_the_total_deadline(server: FakeFeedServer) -> None:
    server.trickle_headers("/trickle-headers", interval=0.5)

    elapsed, error = _timed_fetch(server, "/trickle-headers")

    assert error == "timed out after 2s"
    assert elapsed < GENEROUS_BOUND


def test_trickled_body_hits_the_total_deadline(server: FakeFeedServer) -> None:
    server.trickle_body("/trickle-body", interval=0.5)

    elapsed, error = _timed_fetch(server, "/trickle-body")

    assert error == "timed out after 2s"
    assert elapsed < GENEROUS_BOUND


def test_fetch_text_raises_on_trickled_headers(server: FakeFeedServer) -> None:
    server.trickle_headers("/page", interval=0.5)
    started = time.monotonic()

    with (
        FeedFetcher(timeout=1.5, allow_private=True) as fetcher,
        pytest.raises(FetchError, match=r"^timed out after 1\.5s$"),
    ):
        fetcher.fetch_text(server.url("/page"))

    assert time.monotonic() - started < GENEROUS_BOUND


def test_deadline_does_not_leak_into_the_next_fetch(server: FakeFeedServer) -> None:
    server.trickle_headers("/trickle", interval=0.5)
    server.set_feed("/ok.xml", [FakeEntry("Fine", "/p/fine", guid="fine")])

    with FeedFetcher(timeout=1.0, allow_private=True) as fetcher:
        assert fetcher.fetch(server.url("/trickle")).error == "timed out after 1s"
        result = fetcher.fetch(server.url("/ok.xml"))

    assert result.status == "ok", result.error
    assert [entry.guid for entry in result.entries] == ["fine"]


# 2. Content-Encoding -------------------------------------------------------------


def _gzip_zeros(size: int) -> bytes:
    """gzip of ``size`` zero bytes, compressed in 1 MiB steps (never all in memory)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(1 << 20)
    parts = [compressor.compress(block) for _ in range(size >> 20)]
    parts.append(compressor.flush())
    return b"".join(parts)


def test_gzip_of_gzip_bomb_stops_at_max_bytes_of_decoded_output(server: FakeFeedServer) -> None:
    bomb = gzip.compress(_gzip_zeros(50 << 20), 9)  # a few KB that inflate to 50 MiB
    assert len(bomb) < 100_000
    server.encoded("/bomb.xml", bomb, "gzip, gzip")

    with FeedFetcher(timeout=10.0, max_bytes=1_000_000, allow_private=True) as fetcher:
        tracemalloc.start()
        try:
            result = fetcher.fetch(server.url("/bomb.xml"))
            _current, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert result.status == "error"
    assert result.error == "response larger than 1000000 bytes"
    assert peak < 8_000_000, f"peak {peak} bytes while decoding"


def _deflate(data: bytes, *, raw: bool) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "body"),
    [
        ("gzip", gzip.compress(FEED)),
        ("x-gzip", gzip.compress(FEED)),
        ("deflate", _deflate(FEED, raw=False)),
        ("deflate", _deflate(FEED, raw=True)),
        ("gzip, gzip", gzip.compress(gzip.compress(FEED))),
        ("deflate, gzip", gzip.compress(_deflate(FEED, raw=False))),
        ("identity", FEED),
        ("gzip", gzip.compress(FEED[:80]) + gzip.compress(FEED[80:])),  # two gzip members
    ],
)
def test_compressed_feeds_are_decoded(server: FakeFeedServer, encoding: str, body: bytes) -> None:
    server.encoded("/zipped.xml", body, encoding)

    with FeedFetcher(timeout=5.0, allow_private=True) as fetcher:
        result = fetcher.fetch(server.url("/zipped.xml"))

    assert result.status == "ok", result.error
    assert [entry.guid for entry in result.entries] == ["z1", "z2"]


def test_only_decodable_encodings_are_requested(server: FakeFeedServer) -> None:
    server.set_feed("/plain.xml", [])

    with FeedFetcher(timeout=5.0, allow_private=True) as fetcher:
        fetcher.fetch(server.url("/plain.xml"))

    assert server.requests_to("/plain.xml")[0].headers["accept-encoding"] == "gzip, deflate"


@pytest.mark.parametrize("encoding", ["br", "zstd", "compress", "gzip, br"])
def test_unknown_encodings_are_refused(server: FakeFeedServer, encoding: str) -> None:
    server.encoded("/odd.xml", b"\x8b\x00\x80 not really", encoding)

    with FeedFetcher(timeout=5.0, allow_private=True) as fetcher:
        result = fetcher.fetch(server.url("/odd.xml"))

    assert result.status == "error"
    assert result.error.startswith("unsupported content encoding '")
    assert result.error.split("'")[1] in encoding


def test_more_than_two_stacked_encodings_are_refused(server: FakeFeedServer) -> None:
    server.encoded("/deep.xml", gzip.compress(gzip.compress(gzip.compress(FEED))), "gzip,gzip,gzip")

    with FeedFetcher(timeout=5.0, allow_private=True) as fetcher:
        result = fetcher.fetch(server.url("/deep.xml"))

    assert result.status == "error"
    assert result.error.startswith("too many content encodings (3, at most 2)")


def test_corrupt_gzip_is_a_clear_error(server: FakeFeedServer) -> None:
    server.encoded("/corrupt.xml", b"this is not gzip at all", "gzip")

    with FeedFetcher(timeout=5.0, allow_private=True) as fetcher:
        result = fetcher.fetch(server.url("/corrupt.xml"))

    assert result.status == "error"
    assert result.error.startswith("invalid gzip body: ")
    assert "\n" not in result.error


# 3. DNS rebinding ----------------------------------------------------------------


Resolver = Callable[..., list[tuple]]


def _is_numeric(host: object) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in str(host) else socket.AF_INET, str(host))
    except OSError:
        return False
    return True


def _answer(address: str, port: object) -> list[tuple]:
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))]


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[str]]:
    """A controllable resolver: ``dns[name]`` lists the answers, one per lookup.

    The last answer repeats. Numeric hosts resolve as themselves (as the
    system resolver does). A guard refuses any connection off 127.0.0.1.
    """
    answers: dict[str, list[str]] = {}
    real_getaddrinfo = socket.getaddrinfo
    real_create_connection = socket.create_connection

    def getaddrinfo(host, port, *args, **kwargs):
        if _is_numeric(host):
            return real_getaddrinfo(host, port, *args, **kwargs)
        queue = answers.get(str(host))
        if not queue:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return _answer(queue.pop(0) if len(queue) > 1 else queue[0], port)

    def create_connection(address, *args, **kwargs):
        host = str(address[0])
        queue = answers.get(host) or [host]  # a name: what the next lookup will answer
        if not _is_numeric(host) and host not in answers:
            queue = [""]
        if queue[0] not in ("127.0.0.1", "::1"):
            raise OSError(f"test guard: no connections off 127.0.0.1 ({host})")
        return real_create_connection(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    return answers


def test_rebinding_to_loopback_after_the_check_is_refused(
    server: FakeFeedServer, dns: dict[str, list[str]]
) -> None:
    server.set_feed("/feed.xml", [FakeEntry("Secret", "/p/secret", guid="secret")])
    port = server.base_url.rsplit(":", 1)[1]
    dns["rebind.example"] = [PUBLIC_IP, "127.0.0.1"]  # public for the check, then loopback

    with FeedFetcher(timeout=2.0) as fetcher:
        result = fetcher.fetch(f"http://rebind.example:{port}/feed.xml")

    assert result.status == "error"
    assert result.error == (
        "refusing connection to rebind.example: it resolves to loopback address 127.0.0.1"
    )
    assert server.requests == []


def test_fetch_text_refuses_rebinding_too(
    server: FakeFeedServer, dns: dict[str, list[str]]
) -> None:
    port = server.base_url.rsplit(":", 1)[1]
    dns["rebind.example"] = [PUBLIC_IP, "127.0.0.1"]

    with FeedFetcher(timeout=2.0) as fetcher, pytest.raises(FetchError, match="refusing"):
        fetcher.fetch_text(f"http://rebind.example:{port}/page")

    assert server.requests == []


def test_connection_is_pinned_and_keeps_the_host_name(
    server: FakeFeedServer, dns: dict[str, list[str]]
) -> None:
    server.set_feed("/feed.xml", [FakeEntry("Local", "/p/local", guid="local")])
    port = server.base_url.rsplit(":", 1)[1]
    dns["digest.test"] = ["127.0.0.1"]

    with FeedFetcher(timeout=2.0, allow_private=True) as fetcher:
        result = fetcher.fetch(f"http://digest.test:{port}/feed.xml")

    assert result.status == "ok", result.error
    assert [entry.guid for entry in result.entries] == ["local"]
    assert server.requests_to("/feed.xml")[0].headers["host"] == f"digest.test:{port}"


# 4. Entries cap ------------------------------------------------------------------


def _dated_entries(count: int) -> list[FakeEntry]:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    return [  # oldest first, so "the first N" would be the wrong ones
        FakeEntry(f"Post {n}", f"/p/{n}", guid=f"post-{n}", published=start + timedelta(hours=n))
        for n in range(count)
    ]


def test_feed_entries_are_capped_at_200_by_default(
    server: FakeFeedServer, fetcher: FeedFetcher
) -> None:
    server.set_feed("/huge.xml", _dated_entries(260))

    result = fetcher.fetch(server.url("/huge.xml"))

    assert result.status == "ok", result.error
    assert [entry.guid for entry in result.entries] == [f"post-{n}" for n in range(60, 260)]


def test_feed_entries_cap_is_configurable(server: FakeFeedServer) -> None:
    server.set_feed("/feed.xml", list(reversed(_dated_entries(12))))

    with FeedFetcher(timeout=2.0, allow_private=True, max_entries=3) as fetcher:
        result = fetcher.fetch(server.url("/feed.xml"))

    assert [entry.guid for entry in result.entries] == ["post-11", "post-10", "post-9"]


def test_caps_are_settings() -> None:
    assert (Settings().max_feed_entries, Settings().substack_max_posts) == (200, 500)
    settings = Settings.from_env({"MAX_FEED_ENTRIES": "50", "SUBSTACK_MAX_POSTS": "80"})
    assert (settings.max_feed_entries, settings.substack_max_posts) == (50, 80)


# 5. Bad characters ------------------------------------------------------------------


def _feed_with(reference: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Feed {reference}</title>"
        f"<item><title>Bad {reference} one</title><guid>bad</guid>"
        f"<description>Summary {reference} &lt;b&gt;x&amp;#xD800;&lt;/b&gt;</description>"
        f"<author>A {reference}</author></item>"
        "<item><title>Good</title><guid>good</guid><description>Fine</description></item>"
        "</channel></rss>\n"
    ).encode()


@pytest.mark.parametrize(
    "reference",
    ["&#xD800;", "&#xDFFF;&#xD83D;", "&#1114112;", "&#99999999999999999999999;", "&#0;", "&bogus;"],
)
def test_one_bad_character_reference_does_not_poison_the_feed(
    server: FakeFeedServer, fetcher: FeedFetcher, reference: str
) -> None:
    server.set_raw("/refs.xml", _feed_with(reference), RSS_TYPE)

    result = fetcher.fetch(server.url("/refs.xml"))

    assert result.status == "ok", result.error
    assert [entry.guid for entry in result.entries] == ["bad", "good"]
    bad, good = result.entries
    assert bad.title.startswith("Bad ") and bad.title.endswith(" one")
    assert "\x00" not in bad.title
    assert good.title == "Good"
    for entry in result.entries:
        for text in (entry.guid, entry.link, entry.title, entry.summary_html, entry.author):
            text.encode("utf-8")  # raises on a lone surrogate
    result.feed_title.encode("utf-8")


def test_scrub_text() -> None:
    assert scrub_text("plain é 😀") == "plain é 😀"
    assert scrub_text("a\ud800b") == "a\ufffdb"
    assert scrub_text("\ud83d\ude00") == "😀"  # a split pair is joined
    assert scrub_text("x\udfff").encode("utf-8") == "x\ufffd".encode()


def test_deeply_nested_json_is_a_clear_error(server: FakeFeedServer, fetcher: FeedFetcher) -> None:
    server.set_raw("/deep.json", b"[" * 100_000 + b"]" * 100_000, "application/json")

    with pytest.raises(FetchError, match="^invalid JSON: nested too deeply$"):
        fetcher.fetch_json(server.url("/deep.json"))

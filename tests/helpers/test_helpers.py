"""The shared test helpers and the fixtures ``tests/conftest.py`` builds on them."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from knowledge.watch.state import StateDB
from tests.bot import announce_helpers
from tests.helpers.feeds import BASE, issue, sources_toml, write_sources
from tests.helpers.settings import LOCAL_HTTP_ENV, local_http_settings, settings_for
from tests.helpers.waiting import until


def test_issue_defaults_and_overrides() -> None:
    entry = issue(3)
    assert (entry.title, entry.link, entry.guid) == ("Weekly issue 3", "/p/issue-3", "issue-3")
    assert entry.published == BASE.replace(day=22)
    assert "Glass Routers for Sparse Experts number 3" in entry.content and "2403.01003" in entry.content
    custom = issue(3, title="T", body="<p>b</p>", guid="g")
    assert (custom.title, custom.content, custom.guid) == ("T", "<p>b</p>", "g")
    assert announce_helpers.issue is issue


def test_sources_toml(tmp_path: Path) -> None:
    text = sources_toml([("A", "http://x/feed", None), ("B", "http://y/feed", "http://y")])
    assert text == '[[digest]]\nname = "A"\nfeed = "http://x/feed"\n[[digest]]\nname = "B"\nfeed = "http://y/feed"\nsubstack = "http://y"\n'
    assert write_sources(tmp_path / "s.toml", [("A", "http://x/feed", None)]).read_text().startswith("[[digest]]")


def test_settings_for_is_hermetic(tmp_path: Path) -> None:
    s = settings_for(tmp_path, POLL_MINUTES="2")
    assert s.data_dir == tmp_path and s.poll_minutes == 2
    assert s.arxiv_api_url.startswith("http://127.0.0.1:")
    assert settings_for(tmp_path, ARXIV_API_URL="http://a/q").arxiv_api_url == "http://a/q"

    class HasSettings:
        settings = s

    local = local_http_settings(HasSettings())
    assert local.data_dir == tmp_path
    assert local.allow_private_urls and local.http_timeout_seconds == float(LOCAL_HTTP_ENV["HTTP_TIMEOUT_SECONDS"]) == 2


def test_state_fixtures(state: StateDB, state_factory, tmp_path: Path) -> None:
    assert isinstance(state, StateDB)
    again = state_factory(tmp_path / "other.sqlite3")
    assert isinstance(again, StateDB)


def test_until() -> None:
    async def run() -> None:
        flag: list[int] = []
        asyncio.get_running_loop().call_later(0.05, flag.append, 1)
        await until(lambda: bool(flag), "the flag")
        with pytest.raises(AssertionError, match="waiting for never"):
            await until(lambda: False, "never", timeout=0.05)

    asyncio.run(run())

"""The poller feeds the watches: a real local feed server, the real poller and knowledge base."""

from __future__ import annotations

import logging

import pytest

from knowledge.alerts.store import WatchStore
from knowledge.config import Settings
from knowledge.watch.poller import Poller
from knowledge.watch.state import StateDB
from tests.helpers.feeds import issue, write_sources

TOPIC = "glass routers for sparse experts"


@pytest.fixture
def poller(tmp_path, server, kb_factory):
    kb = kb_factory()
    sources = write_sources(tmp_path / "sources.toml", [("Glass Weekly", server.url("/feed"), None)])
    settings = Settings.from_env({
        "DIGESTBOT_DATA_DIR": str(kb.settings.data_dir), "DIGESTBOT_SOURCES": str(sources), "DIGESTBOT_ALLOW_PRIVATE_URLS": "1",
        "POLL_MINUTES": "0.05", "HTTP_TIMEOUT_SECONDS": "2",
    }, dotenv=False)
    state = StateDB(settings.state_db)
    yield Poller(kb, state, settings, substack_pace=0)
    state.close()


def test_new_issues_are_matched_after_the_round_seeds_and_edits_are_not(server, poller):
    store = WatchStore(poller.state)
    watch = store.add("u1", "topic", TOPIC)
    server.set_feed("/feed", [issue(1)])
    poller.poll_once()
    assert store.hits() == [] and store.queued() == []  # the first run records what exists: no alerts for it

    server.set_feed("/feed", [issue(2), issue(1)])
    report = poller.poll_once(force=True)
    assert report.indexed == 1
    [hit] = store.hits()
    assert hit.watch.id == watch.id and hit.citation["title"] == "Weekly issue 2"
    assert hit.citation["section"] == "Paper 2: Glass Routers for Sparse Experts number 2"
    assert store.queued() == []

    edited = issue(2, body="<p>Issue 2, edited, with a longer note about the week in machine learning research.</p>"
                           "<h2>Paper 2: Glass Routers for Sparse Experts</h2><p>The authors route tokens through glass routers; "
                           "the edit adds that the speedup holds at scale.</p>")
    server.set_feed("/feed", [edited, issue(1)])
    assert poller.poll_once(force=True).reindexed == 1
    assert len(store.hits()) == 1  # re-indexed under the same document: exactly once


def test_a_failing_match_never_breaks_polling_and_is_retried_next_round(server, poller, monkeypatch, caplog):
    store = WatchStore(poller.state)
    store.add("u1", "topic", TOPIC)
    server.set_feed("/feed", [issue(1)])
    poller.poll_once()
    server.set_feed("/feed", [issue(3), issue(1)])

    def broken(*args, **kwargs):
        raise RuntimeError("the knowledge process went away")

    monkeypatch.setattr(poller.kb, "match_topic", broken)
    caplog.set_level(logging.WARNING)
    report = poller.poll_once(force=True)
    assert report.indexed == 1 and not report.errors
    assert store.hits() == [] and len(store.queued()) == 1
    assert any("could not match watch #1" in r.getMessage() for r in caplog.records)

    monkeypatch.undo()
    poller.poll_once(force=True)  # nothing new on the feed: the queued issue is matched now
    [hit] = store.hits()
    assert hit.citation["title"] == "Weekly issue 3" and store.queued() == []

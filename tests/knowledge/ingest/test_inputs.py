"""`digestbot ingest URL`: a feed URL, or a Substack publication's whole archive, from a local server."""

from __future__ import annotations

from knowledge.config import Settings
from knowledge.ingest.inputs import ingest_inputs
from tests.fakes.feeds import FakePost
from tests.helpers.feeds import issue


def settings_for(kb, **extra) -> Settings:
    return Settings.from_env({"DIGESTBOT_DATA_DIR": str(kb.settings.data_dir), "DIGESTBOT_ALLOW_PRIVATE_URLS": "1", "HTTP_TIMEOUT_SECONDS": "2", **extra})


def test_feed_url(kb_factory, server):
    kb = kb_factory()
    server.set_feed("/feed", [issue(2), issue(1)], title="Glass Weekly")
    report = ingest_inputs(kb, [server.url("/feed")], settings=settings_for(kb))
    assert (report.added, report.failed) == (2, 0)
    assert kb.digests() == {"Glass Weekly": 2}
    assert kb.ask("glass routers 20% speedup").citations[0].title == "Weekly issue 2"


def test_substack_publication_backfill(kb_factory, server):
    kb = kb_factory()
    server.set_posts([FakePost(f"post-{n}", f"Archive post {n}", body_html=f"<h2>Amber Adapters {n}</h2><p>Amber adapters number {n} make frozen models cheaper to tune, the post argues at length.</p>") for n in range(1, 16)])
    report = ingest_inputs(kb, [server.base_url], digest="Amber Letters", settings=settings_for(kb))
    assert report.added == 15 and report.failed == 0
    assert kb.digests() == {"Amber Letters": 15}


def test_unreachable_or_private_urls_are_reported(kb_factory, server):
    kb = kb_factory()
    server.fail("/feed", 500)
    report = ingest_inputs(kb, [server.url("/feed")], settings=settings_for(kb))
    assert report.failed == 1 and "HTTP 500" in report.failures[0][1]
    strict = Settings.from_env({"DIGESTBOT_DATA_DIR": str(kb.settings.data_dir)})
    report = ingest_inputs(kb, [server.url("/other")], settings=strict)
    assert report.failed == 1 and report.added == 0

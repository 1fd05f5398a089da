"""The poller against a real local feed server: seeding, exactly-once progress, edits, faults, health."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from knowledge.watch.poller import Poller
from knowledge.watch.state import ANNOUNCED, INDEXED, SKIPPED, StateDB
from tests.fakes.feeds import FakeEntry, FakePost

BASE = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


def issue(n: int, *, title: str | None = None, body: str | None = None, guid: str | None = None) -> FakeEntry:
    heading = f"Paper {n}: Glass Routers for Sparse Experts number {n}"
    html = body or (
        f"<p>Issue {n} opens with a short note about what happened in machine learning this week, and why it matters.</p>"
        f"<h2>{heading}</h2><p>The authors of paper {n} route tokens through glass routers and report a {n}0% speedup "
        f"(<a href='https://arxiv.org/abs/2403.0{1000 + n}'>arXiv</a>).</p>"
    )
    return FakeEntry(title=title or f"Weekly issue {n}", link=f"/p/issue-{n}", guid=guid or f"issue-{n}", published=BASE + timedelta(days=7 * n), content=html)




@pytest.fixture
def make_poller(tmp_path, server, kb_factory):
    kb = kb_factory()
    made = []

    def make(sources: list[tuple[str, str, str]], **env: str) -> Poller:
        toml = "".join(f'[[digest]]\nname = "{n}"\nfeed = "{server.url(f)}"\n' + (f'substack = "{server.base_url}"\n' if s else "") for n, f, s in sources)
        path = tmp_path / "sources.toml"
        path.write_text(toml)
        from knowledge.config import Settings

        settings = Settings.from_env({
            "DIGESTBOT_DATA_DIR": str(kb.settings.data_dir), "DIGESTBOT_SOURCES": str(path), "DIGESTBOT_ALLOW_PRIVATE_URLS": "1",
            "POLL_MINUTES": "0.05", "HTTP_TIMEOUT_SECONDS": "0.5", "MAX_FEED_BYTES": "200000", **env,
        })
        state = StateDB(settings.state_db)
        poller = Poller(kb, state, settings, substack_pace=0)
        made.append(state)
        return poller

    yield make
    for state in made:
        state.close()


def test_first_run_seeds_and_backfills_without_announcing(server, make_poller):
    server.set_feed("/feed", [issue(2), issue(1)])
    server.set_posts([FakePost("old-one", "An old issue", body_html="<p>" + "Old archive text about pebble adapters. " * 5 + "</p>"),
                      FakePost("paid-one", "A paid issue", audience="only_paid", body_html="<p>" + "Only the public preview about router entropy. " * 5 + "</p>")])
    poller = make_poller([("Glass Weekly", "/feed", "substack")])
    report = poller.poll_once()
    assert report.seeded == {"Glass Weekly": 2}
    assert report.announcements == [] and poller.pending() == []
    assert {e.state for e in poller.state.entries("Glass Weekly")} == {SKIPPED}
    # the feed's issues and the archive are answerable
    assert poller.kb.ask("glass routers speedup").found
    answer = poller.kb.ask("pebble adapters old archive")
    assert answer.found and answer.citations[0].title == "An old issue"
    paid = [r for r in poller.kb.store.get_records().values() if r.title == "A paid issue"]
    assert paid and paid[0].paid


def test_new_issue_is_indexed_then_announced_once_across_restarts(server, make_poller):
    server.set_feed("/feed", [issue(1)])
    poller = make_poller([("Glass Weekly", "/feed", "")])
    poller.poll_once()
    server.set_feed("/feed", [issue(2), issue(1)])
    report = poller.poll_once(force=True)
    assert report.new_entries == 1 and report.indexed == 1
    (a,) = report.announcements
    assert a.title == "Weekly issue 2" and a.digest == "Glass Weekly"
    assert any("Glass Routers" in p for p in a.papers) and "note about what happened" in a.summary
    assert poller.kb.ask("glass routers 20% speedup").found  # answerable before it is announced
    # restart between index and announce: a fresh poller over the same state still has it pending
    again = make_poller([("Glass Weekly", "/feed", "")])
    assert [p.guid for p in again.pending()] == ["issue-2"]
    assert again.poll_once(force=True).announcements[0].guid == "issue-2"
    again.mark_announced("Glass Weekly", "issue-2")
    # restart after announce: nothing again
    third = make_poller([("Glass Weekly", "/feed", "")])
    assert third.poll_once(force=True).announcements == []
    assert third.state.find_entry("Glass Weekly", "issue-2", "").state == ANNOUNCED


def test_edited_post_is_reindexed_not_reannounced(server, make_poller):
    server.set_feed("/feed", [issue(1)])
    poller = make_poller([("Glass Weekly", "/feed", "")])
    poller.poll_once()
    server.set_feed("/feed", [issue(2), issue(1)])
    poller.poll_once(force=True)
    poller.mark_announced("Glass Weekly", "issue-2")
    edited = issue(2, body="<p>Corrected: the glass routers paper reports a quartz speedup, not a percentage, and a longer note.</p>")
    server.set_feed("/feed", [edited, issue(1)])
    report = poller.poll_once(force=True)
    assert report.reindexed == 1 and report.announcements == [] and report.new_entries == 0
    assert "quartz" in poller.kb.ask("glass routers quartz speedup").citations[0].excerpt


def test_guid_falls_back_to_url_and_duplicates_are_one_entry(server, make_poller):
    server.set_feed("/feed", [issue(1)])
    poller = make_poller([("Glass Weekly", "/feed", "")])
    poller.poll_once()
    dup = issue(3)
    server.set_feed("/feed", [dup, dup, issue(1)])
    report = poller.poll_once(force=True)
    assert report.new_entries == 1 and len(report.announcements) == 1


def test_missed_issues_are_capped_with_one_summary_line(server, make_poller):
    server.set_feed("/feed", [issue(1)])
    poller = make_poller([("Glass Weekly", "/feed", "")], ANNOUNCE_MAX_MISSED="2")
    poller.poll_once()
    server.set_feed("/feed", [issue(n) for n in range(6, 0, -1)])
    report = poller.poll_once(force=True)
    assert [a.guid for a in report.announcements] == ["issue-5", "issue-6"]
    (summary,) = report.summaries
    assert summary.guids == ["issue-2", "issue-3", "issue-4"] and summary.titles[-1] == "Weekly issue 4"
    for a in report.announcements:
        poller.mark_announced(a.source, a.guid)
    again = poller.poll_once(force=True)  # the line was not posted yet: it comes again, nothing is lost
    assert again.announcements == [] and again.summaries == [summary]
    poller.mark_summarised(summary)
    done = poller.poll_once(force=True)
    assert done.announcements == [] and done.summaries == []  # summarised ones are done too


@pytest.mark.parametrize("fault", ["500", "slow", "malformed", "oversized", "redirect_loop"])
def test_a_broken_feed_never_stops_the_others(server, make_poller, fault):
    server.set_feed("/good", [issue(1)])
    server.set_feed("/bad", [issue(1)])
    {"500": lambda: server.fail("/bad", 500), "slow": lambda: server.slow("/bad", 2.0), "malformed": lambda: server.malformed("/bad"),
     "oversized": lambda: server.oversized("/bad", 500_000), "redirect_loop": lambda: server.redirect_loop("/bad")}[fault]()
    poller = make_poller([("Broken", "/bad", ""), ("Good", "/good", "")])
    report = poller.poll_once()
    assert "Broken" in report.errors and "Good" not in report.errors
    assert report.seeded.get("Good") == 1
    assert poller.state.health("Broken").failures == 1


def test_source_is_paused_after_failures_and_recovers(server, make_poller):
    server.set_feed("/feed", [issue(1)])
    server.fail("/feed", 503)
    poller = make_poller([("Glass Weekly", "/feed", "")])
    notices = []
    for _ in range(4):
        notices += poller.poll_once(force=True).notices
    assert [n.kind for n in notices] == ["paused"]  # one visible message, not one per failure
    assert notices[0].source == "Glass Weekly" and notices[0].failures >= 3 and "503" in notices[0].error
    assert poller.state.health("Glass Weekly").paused
    assert any("paused" in line for line in poller.health_lines())
    server.clear_fault("/feed")
    recovered = poller.poll_once(force=True).notices
    assert [n.kind for n in recovered] == ["recovered"]
    assert not poller.state.health("Glass Weekly").paused


def test_backoff_skips_a_failing_source_until_its_time(server, make_poller):
    server.fail("/feed", 500)
    poller = make_poller([("Glass Weekly", "/feed", "")])
    poller.poll_once()
    assert poller.poll_once().checked == []  # backing off
    assert poller.state.health("Glass Weekly").next_attempt > poller.clock()


def test_conditional_get_and_dry_run(server, make_poller):
    server.set_feed("/feed", [issue(1)])
    poller = make_poller([("Glass Weekly", "/feed", "")])
    poller.poll_once()
    poller.poll_once(force=True)
    headers = server.requests_to("/feed")[-1].headers
    assert headers.get("if-none-match") or headers.get("if-modified-since")
    server.set_feed("/feed", [issue(2), issue(1)])
    dry = poller.poll_once(dry_run=True, force=True)
    assert dry.would_index == ["Glass Weekly: Weekly issue 2"]
    assert poller.state.find_entry("Glass Weekly", "issue-2", "") is None  # nothing recorded


def test_admin_sources_are_validated(make_poller):
    poller = make_poller([])
    poller.settings = poller.settings.__class__(**{**{f: getattr(poller.settings, f) for f in poller.settings.__dataclass_fields__}, "allow_private_urls": False})
    with pytest.raises(ValueError, match="private|loopback|local"):
        poller.add_source("Local", "http://127.0.0.1:9/feed")
    with pytest.raises(ValueError):
        poller.add_source("Ftp", "ftp://example.org/feed")
    assert poller.sources() == []


def test_an_entry_whose_indexing_failed_is_retried(server, make_poller):
    server.set_feed("/feed", [issue(1)])
    poller = make_poller([("Glass Weekly", "/feed", "")])
    poller.poll_once()
    server.set_feed("/feed", [FakeEntry(title="Empty", link="/p/empty", guid="empty", content="<p></p>"), issue(1)])
    server.set_raw("/p/empty", b"<html><body></body></html>", "text/html")
    poller.poll_once(force=True)
    assert poller.state.find_entry("Glass Weekly", "empty", "").state == "seen"
    server.set_raw("/p/empty", b"<html><body><p>Now the post has text about crystal adapters and more words to read.</p></body></html>", "text/html")
    report = poller.poll_once(force=True)
    assert poller.state.find_entry("Glass Weekly", "empty", "").state == INDEXED
    assert [a.guid for a in report.announcements] == ["empty"]


def _other(n: int, *, link: str | None = None, guid: str | None = None, body: str | None = None) -> FakeEntry:
    html = body or f"<p>Other digest issue {n} is about pebble adapters and their quartz-like behaviour in long training runs.</p>"
    return FakeEntry(title=f"Other issue {n}", link=link or f"/o/issue-{n}", guid=guid or f"other-{n}", published=BASE + timedelta(days=7 * n), content=html)


def test_a_source_cannot_replace_another_digests_document(server, make_poller):
    from knowledge.watch.poller import scoped_doc_id

    server.set_feed("/glass", [issue(1)])
    server.set_feed("/other", [_other(1)])
    poller = make_poller([("Glass Weekly", "/glass", ""), ("Other Digest", "/other", "")])
    poller.poll_once()
    server.set_feed("/glass", [issue(2), issue(1)])
    poller.poll_once(force=True)
    owner = poller.state.find_entry("Glass Weekly", "issue-2", "")
    # another watched source links the same post, with other text
    impostor = _other(2, link="/p/issue-2", guid="impostor", body="<p>" + "Impostor text claims the glass routers paper found nothing at all. " * 3 + "</p>")
    server.set_feed("/other", [impostor, _other(1)])
    report = poller.poll_once(force=True)
    copy = poller.state.find_entry("Other Digest", "impostor", "")
    assert copy.state == INDEXED and copy.doc_id == scoped_doc_id("Other Digest", owner.doc_id) != owner.doc_id
    records = poller.kb.store.get_records([owner.doc_id, copy.doc_id])
    assert records[owner.doc_id].digest == "Glass Weekly" and records[owner.doc_id].title == "Weekly issue 2"
    assert records[copy.doc_id].digest == "Other Digest"
    assert "glass routers" in poller.kb.issue_overview(owner.doc_id).summary.lower() or poller.kb.ask("glass routers 20% speedup").found
    assert {a.digest for a in report.announcements} == {"Glass Weekly", "Other Digest"}
    # the owner's edits still update its own document; the copy keeps its scoped ID
    server.set_feed("/other", [impostor, _other(1)])
    server.set_feed("/glass", [issue(2, body="<p>Edited: the glass routers paper reports a basalt speedup in a longer note about routing.</p>"), issue(1)])
    poller.poll_once(force=True)
    assert poller.state.find_entry("Glass Weekly", "issue-2", "").doc_id == owner.doc_id
    assert poller.kb.store.get_records([owner.doc_id])[owner.doc_id].digest == "Glass Weekly"


def test_a_first_run_that_meets_another_digests_link_keeps_both(server, make_poller):
    server.set_feed("/glass", [issue(1)])
    server.set_feed("/other", [_other(1, link="/p/issue-1", guid="copy-1")])
    poller = make_poller([("Glass Weekly", "/glass", ""), ("Other Digest", "/other", "")])
    poller.poll_once()
    mine = poller.state.find_entry("Glass Weekly", "issue-1", "")
    theirs = poller.state.find_entry("Other Digest", "copy-1", "")
    assert mine.doc_id and theirs.doc_id and mine.doc_id != theirs.doc_id
    records = poller.kb.store.get_records([mine.doc_id, theirs.doc_id])
    assert records[mine.doc_id].digest == "Glass Weekly" and records[theirs.doc_id].digest == "Other Digest"


def test_one_bad_entry_is_recorded_and_backed_off_while_the_others_go_on(server, make_poller):
    server.set_feed("/feed", [issue(1)])
    poller = make_poller([("Glass Weekly", "/feed", "")], POLL_MINUTES="30")
    poller.poll_once()
    # first in the feed: an entry with no text whose page has none either (a parse error)
    bad = FakeEntry(title="Bad page", link="/p/bad", guid="bad", published=BASE + timedelta(days=20), content="<p></p>")
    server.set_raw("/p/bad", b"<html><body><nav>menu</nav></body></html>", "text/html")
    server.set_feed("/feed", [bad, issue(3), issue(2), issue(1)])
    report = poller.poll_once(force=True)
    assert report.indexed == 2 and {a.guid for a in report.announcements} == {"issue-2", "issue-3"}
    row = poller.state.find_entry("Glass Weekly", "bad", "")
    assert row.state == "seen" and row.failures == 1 and row.last_error
    assert row.retry_at >= poller.clock() + 30 * 60 - 5  # backing off, not retried every round
    assert poller.state.health("Glass Weekly").failures == 0  # the source itself is fine
    assert list(report.entry_errors) == ["Glass Weekly: Bad page"]
    fetched = len(server.requests_to("/p/bad"))
    server.set_feed("/feed", [bad, issue(4), issue(3), issue(2), issue(1)])
    again = poller.poll_once()
    assert again.indexed == 1 and len(server.requests_to("/p/bad")) == fetched  # not retried before its time
    assert any("not indexable yet" in line for line in poller.health_lines())
    assert poller.status().entries_failing == 1
    # once its backoff is over and the page is fixed, it is indexed like any other
    server.set_raw("/p/bad", b"<html><body><p>Now the page has proper text about crystal adapters and more words to read here.</p></body></html>", "text/html")
    row.retry_at = 0
    poller.state.upsert_entry(row)
    poller.poll_once()
    fixed = poller.state.find_entry("Glass Weekly", "bad", "")
    assert fixed.state == INDEXED and fixed.failures == 0 and fixed.last_error == ""


def test_an_unexpected_error_in_a_source_counts_as_a_failure_with_backoff(server, make_poller, caplog):
    server.set_feed("/feed", [issue(1)])
    poller = make_poller([("Glass Weekly", "/feed", "")], POLL_MINUTES="30")
    poller.kb.close()  # the knowledge side is broken: seeding raises something no one expected
    report = poller.poll_once()
    health = poller.state.health("Glass Weekly")
    assert "unexpected error" in report.errors["Glass Weekly"]
    assert health.failures == 1 and health.next_attempt > poller.clock() + 60 and not health.seeded
    requests = len(server.requests_to("/feed"))
    assert poller.poll_once().checked == [] and len(server.requests_to("/feed")) == requests  # backing off


def test_a_busy_store_is_one_warning_and_a_retry_next_round(server, make_poller, caplog):
    import fcntl
    import logging

    server.set_feed("/feed", [issue(1)])
    poller = make_poller([("Glass Weekly", "/feed", "")])
    poller.poll_once()
    server.set_feed("/feed", [issue(2), issue(1)])
    with (poller.settings.data_dir / ".write.lock").open("a+") as other_writer:  # another process writing
        fcntl.flock(other_writer.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            report = poller.poll_once()
        fcntl.flock(other_writer.fileno(), fcntl.LOCK_UN)
    assert report.busy == ["Glass Weekly"] and report.announcements == []
    records = [r for r in caplog.records if r.name == "knowledge.watch.poller"]
    assert [r.levelname for r in records] == ["WARNING"] and records[0].exc_info is None
    assert "next round" in records[0].getMessage()
    assert poller.state.health("Glass Weekly").failures == 0  # not the source's fault
    assert poller.state.find_entry("Glass Weekly", "issue-2", "").state == "seen"
    report = poller.poll_once()  # the next round, no force: indexed and ready to announce
    assert [a.guid for a in report.announcements] == ["issue-2"]

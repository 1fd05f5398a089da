"""knowledge.watch.state: entry progress and source health survive a reopen; failures back off."""

from __future__ import annotations

from knowledge.watch.state import INDEXED, SEEN, EntryRow, SourceHealth, StateDB


def test_entries_and_health_survive_a_reopen(tmp_path):
    db = StateDB(tmp_path / "state.sqlite3")
    row = EntryRow("Weekly", "g1", "https://e.org/1", "Issue 1", "2024-03-17", "h", "", SEEN, 0.0, "")
    db.upsert_entry(row)
    row.state, row.doc_id = INDEXED, "doc-1"
    db.upsert_entry(row)
    db.save_health(SourceHealth("Weekly", failures=2, last_error="HTTP 503", etag="e1"))
    db.close()
    again = StateDB(tmp_path / "state.sqlite3")
    found = again.find_entry("Weekly", "other-guid", "https://e.org/1")  # by canonical URL
    assert found is not None and found.state == INDEXED and found.first_seen > 0
    assert again.doc_owners("doc-1") == {"Weekly"} and [e.guid for e in again.entries(state=INDEXED)] == ["g1"]
    health = again.health("Weekly")
    assert (health.failures, health.last_error, health.etag) == (2, "HTTP 503", "e1")
    assert again.health("Unknown") == SourceHealth("Unknown")
    again.close()


def test_failures_back_off_exponentially_up_to_a_cap():
    row = EntryRow("s", "g", "", "", "", "", "", SEEN, 0.0, "")
    delays = []
    for _ in range(5):
        row.record_failure("boom", 1000.0, 60.0, 300.0)
        delays.append(row.retry_at - 1000.0)
    assert delays == [60.0, 120.0, 240.0, 300.0, 300.0] and row.failures == 5
    row.clear_failures()
    assert (row.failures, row.last_error, row.retry_at) == (0, "", 0.0)

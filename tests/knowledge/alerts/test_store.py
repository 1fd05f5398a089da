"""WatchStore on a real SQLite state database: caps, privacy, exactly-once hits, delivery states."""

from __future__ import annotations

import pytest

from knowledge.alerts.store import (
    FAILED,
    MAX_ATTEMPTS,
    PENDING,
    REFUSED,
    SENDING,
    SENT,
    SKIPPED,
    TERMINAL_USER,
    WatchStore,
    WatchSummary,
)
from knowledge.alerts.words import MAX_TOPIC_CHARS, WatchRefused, check_topic


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(state, clock) -> WatchStore:
    return WatchStore(state, max_per_user=3, clock=clock)


CITATION = {"digest": "Glass Weekly", "title": "Weekly issue 2", "date": "2024-03-15", "section": "Glass Routers",
            "excerpt": "They route tokens through glass routers.", "url": "https://glass.example/p/2", "doc_id": "d2", "chunk_id": "d2#0"}


@pytest.mark.parametrize("text", ["", "   ", "the of and", "???", "🙂🙂🙂", "— … !!"])
def test_topics_without_usable_words_are_refused_with_a_reason(text):
    with pytest.raises(WatchRefused) as err:
        check_topic(text)
    assert "empty" in str(err.value) or "no words to match" in str(err.value)


def test_long_topics_are_refused_and_good_ones_cleaned():
    with pytest.raises(WatchRefused, match=f"under {MAX_TOPIC_CHARS}"):
        check_topic("routers " * 40)
    assert check_topic("  Speculative\n decoding  ") == "Speculative decoding"
    assert check_topic("라마 모델") == "라마 모델"


def test_add_refuses_duplicates_and_the_per_user_cap(store):
    first = store.add("u1", "topic", "Glass routers", guild_id=42)
    assert (first.id, first.user_id, first.guild_id, first.kind, first.target) == (1, "u1", "42", "topic", "Glass routers")
    with pytest.raises(WatchRefused, match="already watch this \\(watch #1\\)"):
        store.add("u1", "topic", "glass   ROUTERS")
    store.add("u2", "topic", "glass routers")  # another user may watch the same
    store.add("u1", "paper", "https://arxiv.org/abs/2305.14314v2")
    with pytest.raises(WatchRefused, match="already watch"):
        store.add("u1", "paper", "arXiv:2305.14314")
    store.add("u1", "topic", "speculative decoding")
    with pytest.raises(WatchRefused, match="3 watches, the most one person may have"):
        store.add("u1", "topic", "tokenizers")
    with pytest.raises(WatchRefused, match="not an arXiv ID"):
        store.add("u1", "paper", "not-a-paper")
    assert [w.target for w in store.watches("u1")] == ["Glass routers", "2305.14314", "speculative decoding"]


def test_nobody_sees_or_removes_another_users_watch(store):
    mine = store.add("u1", "topic", "glass routers")
    assert store.watches("u2") == []
    assert store.remove("u2", mine.id) is False
    assert store.remove("u2", 999) is False  # the same answer as for a watch that does not exist
    assert [w.id for w in store.watches("u1")] == [mine.id]
    assert store.remove("u1", mine.id) is True
    assert store.watches("u1") == [] and store.remove("u1", mine.id) is False
    store.add("u1", "topic", "glass routers")  # watched again after removing: a new watch


def test_hits_are_exactly_once_per_watch_and_document(store):
    watch = store.add("u1", "topic", "glass routers")
    assert store.add_hit(watch, "d2", CITATION) is True
    assert store.add_hit(watch, "d2", CITATION | {"excerpt": "an edited post"}) is False
    [hit] = store.due_hits()
    assert (hit.state, hit.doc_id, hit.citation) == (PENDING, "d2", CITATION)
    assert hit.watch.target == "glass routers"


def test_delivery_states_refused_is_final_failures_back_off_then_fail(store, clock):
    watch = store.add("u1", "topic", "glass routers")
    store.add_hit(watch, "d1", CITATION)
    store.add_hit(watch, "d2", CITATION)
    first, second = store.due_hits()
    store.mark_sending(first, "abc123")
    assert [h.state for h in store.due_hits()] == [SENDING, PENDING]  # a restart finds it still due, with its nonce
    assert store.due_hits()[0].nonce == "abc123"
    store.mark_sent(first, 111)
    store.mark_refused(second, "HTTP 403: Cannot send messages to this user")
    assert store.due_hits() == []
    assert store.sent_since("u1") == 1
    clock.now += 3601
    assert store.sent_since("u1") == 0

    store.add_hit(watch, "d3", CITATION)
    [third] = store.due_hits()
    store.mark_sending(third, "n3")
    for attempt in range(1, MAX_ATTEMPTS):
        assert store.mark_failed_attempt(third, "HTTP 503") == SENDING
        assert store.due_hits() == []  # backing off
        clock.now = third.retry_at
        [third] = store.due_hits()
        assert third.attempts == attempt
    assert store.mark_failed_attempt(third, "HTTP 503") == FAILED
    clock.now += 10**7
    assert store.due_hits() == []  # never retried forever
    assert {h.doc_id: h.state for h in store.hits("u1")} == {"d1": SENT, "d2": REFUSED, "d3": FAILED}


def test_removing_a_watch_drops_its_unsent_hits_and_the_terminal_is_not_dmed(store):
    watch = store.add("u1", "topic", "glass routers")
    terminal = store.add(TERMINAL_USER, "topic", "glass routers")
    store.add_hit(watch, "d1", CITATION)
    store.add_hit(terminal, "d1", CITATION)
    assert [h.watch.user_id for h in store.due_hits()] == ["u1"]
    assert [h.watch.user_id for h in store.due_hits(user_id=TERMINAL_USER)] == [TERMINAL_USER]
    store.remove("u1", watch.id)
    assert store.due_hits() == [] and store.hits("u1")[0].state == SKIPPED


def test_the_queue_survives_a_reopen(tmp_path, state_factory):
    path = tmp_path / "state.sqlite3"
    store = WatchStore(state_factory(path))
    store.queue(["d1", "d2", "d1"])
    again = WatchStore(state_factory(path))
    assert again.queued() == ["d1", "d2"]
    again.unqueue(["d1"])
    assert store.queued() == ["d2"]


def test_a_document_whose_scans_keep_failing_is_dropped_after_a_few(store):
    from knowledge.alerts.store import MAX_FAILED_SCANS

    store.queue(["d1", "d2"])
    for _ in range(MAX_FAILED_SCANS - 1):
        assert store.scan_failed(["d1"]) == []
    assert store.scan_failed(["d1"]) == ["d1"]
    assert store.queued() == ["d2"]


def test_the_summary_counts_discord_users_watches_and_dms_not_the_terminals(store):
    assert store.summary() == WatchSummary()
    one = store.add("u1", "topic", "glass routers")
    store.add("u1", "paper", "2403.05678")
    two = store.add("u2", "topic", "sparse experts")
    gone = store.add("u3", "topic", "ice cores")
    store.remove("u3", gone.id)
    terminal = store.add(TERMINAL_USER, "topic", "glass routers")
    store.add_hit(one, "d1", CITATION)
    store.add_hit(one, "d2", CITATION)
    store.add_hit(two, "d1", CITATION)
    store.add_hit(terminal, "d1", CITATION)
    first, second, third = store.due_hits()
    store.mark_sent(first, 1)
    store.mark_refused(second, "HTTP 403")
    store.mark_sending(third, "n")
    assert store.summary() == WatchSummary(active=3, users=2, waiting=1, refused=1, failed=0)

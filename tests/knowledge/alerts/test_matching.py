"""WatchMatcher and KnowledgeBase.match_topic against a real index (real model, real Chroma)."""

from __future__ import annotations

import pytest

from knowledge.alerts.matching import WatchMatcher
from knowledge.alerts.store import WatchStore
from tests.helpers.paths import ARCHIVE

GLASS = """2024-4-2 Glass Weekly: routers and more

A short note opens this issue about the week in machine learning research and what came out of it.

Glass Routers for Sparse Experts

The authors route every token through a glass router, a tiny learned gate that keeps the load of the experts balanced. They report a 30% speedup on sparse expert models at the same quality.

Lantern-7B, again

We come back to Lantern-7B (arXiv:2403.05678): its rolling attention window now reaches 8192 tokens.
"""

PROTEIN = """2024-4-9 Glass Weekly: a quiet week

A short note opens this issue about a quiet week in machine learning research, with one paper.

Protein Folding with Small Models

A compact model predicts protein structures from sequences and runs on one consumer graphics card.
"""


@pytest.fixture
def kb(kb_factory):
    kb = kb_factory()
    kb.ingest([ARCHIVE])
    return kb


def ingest_text(kb, folder, name: str, text: str) -> str:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    report = kb.ingest([folder / name])
    [made] = report.documents
    return made["doc_id"]


def test_match_topic_searches_inside_each_document_with_asks_gate(kb, tmp_path):
    glass = ingest_text(kb, tmp_path / "glass-weekly", "2024-4-2-glass.txt", GLASS)
    protein = ingest_text(kb, tmp_path / "glass-weekly", "2024-4-9-quiet.txt", PROTEIN)
    found = kb.match_topic("glass routers for sparse experts", [glass, protein, "no-such-doc", "arxiv:2403.05678"])
    assert list(found) == [glass]
    c = found[glass]
    assert c.section == "Glass Routers for Sparse Experts" and "glass router" in c.excerpt and c.doc_id == glass and not c.weak
    assert kb.ask("glass routers for sparse experts").confidence == "answer"  # the same gate: ask agrees
    assert kb.match_topic("quantum chemistry of bananas", [glass, protein]) == {}
    assert kb.ask("quantum chemistry of bananas").confidence != "answer"
    # restricted for real: a topic the archive answers elsewhere is not matched in a document that does not
    assert kb.match_topic("PebbleTune adapters", [protein]) == {}
    assert kb.match_topic("", [glass]) == {} and kb.match_topic("glass routers", []) == {}


def test_scan_records_hits_once_and_a_failure_leaves_the_queue(kb, tmp_path, state, monkeypatch):
    store = WatchStore(state)
    topic = store.add("u1", "topic", "glass routers for sparse experts")
    other = store.add("u2", "topic", "quantum chemistry of bananas")
    paper = store.add("u3", "paper", "2403.05678")  # the abstract is indexed: known by ID and title
    glass = ingest_text(kb, tmp_path / "glass-weekly", "2024-4-2-glass.txt", GLASS)
    protein = ingest_text(kb, tmp_path / "glass-weekly", "2024-4-9-quiet.txt", PROTEIN)
    store.queue([glass, protein])

    real = kb.match_topic
    calls = {"n": 0}

    def flaky(text, doc_ids):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("knowledge process restarting")
        return real(text, doc_ids)

    monkeypatch.setattr(kb, "match_topic", flaky)
    report = WatchMatcher(kb, store).scan()
    assert report.errors and other.id in report.errors
    assert store.queued() == [glass, protein]  # kept for the next scan
    assert sorted(report.hits) == sorted([(topic.id, glass), (paper.id, glass)])

    again = WatchMatcher(kb, store).scan()
    assert again.hits == [] and not again.errors and store.queued() == []  # nothing twice
    hits = {(h.watch.id, h.doc_id): h for h in store.hits()}
    assert set(hits) == {(topic.id, glass), (paper.id, glass)}
    assert hits[(paper.id, glass)].citation["section"] == "Lantern-7B, again"
    assert store.watches("u3")[0].title == "Lantern-7B: A Small Model That Reads Long Documents"  # learned from the index
    assert WatchMatcher(kb, store).scan().documents == []  # an empty queue: nothing to do


def test_a_paper_watch_finds_an_issue_by_title_once_the_title_is_known(kb, tmp_path, state):
    store = WatchStore(state)
    watch = store.add("u1", "paper", "2403.05678")
    record = kb.paper("2403.05678", online=False)
    title = record.paper.title
    doc = ingest_text(kb, tmp_path / "glass-weekly", "2024-4-16-title.txt",
                      f"2024-4-16 Glass Weekly: one paper\n\nA short note opens this issue about a single paper we read twice this week.\n\n"
                      f"{title}\n\nThis paper, named only by its title here, is the one everybody discussed this week at length.\n")
    store.queue([doc])
    WatchMatcher(kb, store).scan()
    [hit] = store.hits("u1")
    assert hit.watch.id == watch.id and hit.doc_id == doc and hit.citation["section"] == title

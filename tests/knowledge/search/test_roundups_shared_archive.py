"""The roundup over the sample archive (``../shared/archive``, when present) plus the three fixture digests.

The sample archive's Korean notes of 2024-04-12 cover Rho-1 under its title; the fixture digests of
the same week cover it by arXiv ID and by title. Skipped where the sample archive is not checked out.
"""

from __future__ import annotations

import pytest

from knowledge.text import split_sentences
from tests.helpers.paths import ROUNDUP, TESTS
from tests.helpers.settings import settings_for

SHARED_ARCHIVE = TESTS.parent.parent / "shared" / "archive"

pytestmark = pytest.mark.skipif(not SHARED_ARCHIVE.is_dir(), reason="../shared/archive is not here")


@pytest.fixture(scope="module")
def shared_kb(tmp_path_factory, embedder):
    from knowledge.facade import KnowledgeBase

    kb = KnowledgeBase(settings_for(tmp_path_factory.mktemp("shared-roundup")), embedder=embedder)
    kb.ingest([SHARED_ARCHIVE, ROUNDUP])
    yield kb
    kb.close()


def test_a_paper_three_digests_covered_is_one_entry_first_with_every_take_quoted(shared_kb):
    roundup = shared_kb.roundup()  # the sample archive is old: the newest week with issues
    assert roundup.fallback and roundup.until == "2024-04-12"
    first = roundup.papers[0]
    assert first.arxiv_id == "2404.07965" and first.title == "Rho-1: Not All Tokens Are What You Need"
    assert first.digests == ["Gradient Gazette", "Tensor Tea", "Korean Paper Notes"]
    for p in roundup.papers:
        for t in p.takes:
            rows = sorted((c for c in shared_kb.store.get_chunks(where={"doc_id": t.doc_id}) if c.section == t.section), key=lambda c: c.order)
            stored = " ".join(" ".join(c.text.split()) for c in rows)
            assert all(s in stored for s in split_sentences(t.excerpt.removesuffix(" …"))), t.excerpt

"""/paper end to end: local metadata, the arXiv API (fake) then cache and index, offline, title mentions."""

from __future__ import annotations

import pytest

from knowledge.clients.arxiv_api import ArxivCache, ArxivClient, Pacer
from knowledge.clients.arxiv_ids import InvalidArxivId
from tests.conftest import ARCHIVE, free_port
from tests.fakes.arxiv_server import FakeArxiv, FakePaper

ROUTER = FakePaper("2403.04321", "Sparse Router Collapse in Mixture-of-Experts", ["Ana Diaz", "Ben Ode", "Cy Park", "Di Lu", "Ed Wu"], "Routers in mixture-of-experts models collapse onto few experts; an entropy bonus fixes it.", published="2024-03-07T10:00:00Z")


def offline_client(tmp_path) -> ArxivClient:
    return ArxivClient(f"http://127.0.0.1:{free_port()}/api/query", pacer=Pacer(0), max_retries=0, timeout=0.5)


@pytest.fixture
def api():
    with FakeArxiv() as fake:
        fake.add(ROUTER)
        yield fake


def test_local_paper_and_its_mentions(fixture_kb):
    report = fixture_kb.paper("https://arxiv.org/abs/2403.05678v2")
    assert report.found and report.paper.metadata_source == "index"
    assert report.paper.title.startswith("Lantern-7B")
    digests = {m.digest for m in report.mentions}
    assert {"Model Notes", "Korean Daily"} <= digests  # by ID, and by title only
    dates = [m.date for m in report.mentions]
    assert dates == sorted(dates, reverse=True)  # newest first
    assert all(m.doc_id != "arxiv:2403.05678" for m in report.mentions)
    data = report.to_json()
    assert data["abs_url"] == "https://arxiv.org/abs/2403.05678" and data["pdf_url"] == "https://arxiv.org/pdf/2403.05678"


def test_api_hit_is_cached_indexed_and_finds_title_only_mentions(kb_factory, api, tmp_path):
    arxiv = ArxivClient(api.url, cache=ArxivCache(tmp_path / "state.sqlite3"), pacer=Pacer(0))
    kb = kb_factory(arxiv=arxiv)
    kb.ingest([ARCHIVE])
    report = kb.paper("arXiv:2403.04321")
    assert report.paper.metadata_source == "arxiv-api" and report.paper.authors[0] == "Ana Diaz"
    sections = {(m.digest, m.section) for m in report.mentions}
    assert ("Weekly Paper Roundup", "Sparse Router Collapse in Mixture-of-Experts") in sections  # named by title only
    assert ("Html Posts", "Router collapse") in sections  # links the ID
    assert len(api.requests) == 1
    again = kb.paper("2403.04321")
    assert again.paper.metadata_source == "index" and len(api.requests) == 1  # indexed: local next time
    assert again.paper.authors[0] == "Ana Diaz"
    assert kb.ask("entropy bonus fixes router collapse onto few experts").found


def test_unknown_valid_id_is_not_found(kb_factory, api, tmp_path):
    kb = kb_factory(arxiv=ArxivClient(api.url, pacer=Pacer(0)))
    report = kb.paper("2401.00007")
    assert not report.found and report.paper is None and report.mentions == []
    assert report.to_json()["found"] is False


def test_offline_shows_local_mentions_and_says_the_lookup_failed(kb_factory, tmp_path):
    kb = kb_factory(arxiv=offline_client(tmp_path))
    kb.ingest([ARCHIVE / "html-posts"])
    report = kb.paper("2403.04321")
    assert "arXiv lookup failed" in report.lookup_error
    assert report.found and report.mentions[0].section == "Router collapse"


def test_invalid_id_never_reaches_the_api(kb_factory, api):
    kb = kb_factory(arxiv=ArxivClient(api.url, pacer=Pacer(0)))
    with pytest.raises(InvalidArxivId):
        kb.paper("not a paper")
    assert api.requests == []

"""Paper coverage: which digest covered a paper first, and how long after its arXiv v1."""

from __future__ import annotations

import pytest

from knowledge.clients.arxiv_api import ArxivCache, ArxivClient, Pacer
from knowledge.models import Citation, Paper
from knowledge.search.coverage import first_coverage, id_month, v1_date
from tests.conftest import ARCHIVE
from tests.fakes.arxiv_server import FakeArxiv, FakePaper


def make_citation(rank: int, *, digest: str = "Some Digest", date: str = "") -> Citation:
    return Citation(rank=rank, digest=digest, title=f"{digest} issue", date=date, section="A paper", url="https://example.org/issue",
                    source="issue.txt", excerpt="They did a thing.", score=1.0, arxiv_ids=[])


@pytest.mark.parametrize(("arxiv_id", "month"), [
    ("2305.14314", (2023, 5)), ("0704.0001", (2007, 4)), ("1501.00001", (2015, 1)),
    ("cs/0112017", (2001, 12)), ("hep-th/9901001", (1999, 1)), ("math.GT/0309136", (2003, 9)),
    ("2313.00001", None), ("not-an-id", None),
])
def test_the_month_an_id_was_issued_in(arxiv_id, month):
    assert id_month(arxiv_id) == month


def test_the_api_date_wins_over_the_id_month():
    assert v1_date("2305.14314", Paper("2305.14314", published="2023-05-23"))[:2] == ("2023-05-23", "api")
    assert v1_date("2305.14314", Paper("2305.14314", published=""))[:2] == ("2023-05", "id-month")
    assert v1_date("cs/0112017", None)[:2] == ("2001-12", "id-month")


def test_first_coverage_is_the_earliest_dated_mention():
    mentions = [make_citation(1, digest="Later", date="2023-06-02"), make_citation(2, digest="First", date="2023-05-28"),
                make_citation(3, digest="Undated", date="")]
    api = first_coverage("2305.14314", Paper("2305.14314", published="2023-05-23"), mentions)
    assert (api.digest, api.date, api.days_after_v1, api.v1_basis) == ("First", "2023-05-28", 5, "api")
    by_month = first_coverage("2305.14314", None, mentions)
    assert (by_month.days_after_v1, by_month.v1_date, by_month.v1_basis) == (27, "2023-05", "id-month")
    old = first_coverage("cs/0112017", None, [make_citation(1, date="2002-01-05")])
    assert (old.days_after_v1, old.v1_date) == (35, "2001-12")
    month_dated = first_coverage("2310.06825", None, [make_citation(1, date="2023-10")])
    assert month_dated.date == "2023-10" and month_dated.days_after_v1 is None  # no day to count to
    assert first_coverage("2305.14314", None, [make_citation(1, date="")]) is None


def test_the_paper_report_says_who_covered_it_first_from_the_id_month(roundup_kb):
    report = roundup_kb.paper("2404.07965")
    cov = report.coverage
    assert (cov.digest, cov.date, cov.v1_date, cov.v1_basis, cov.days_after_v1) == ("Gradient Gazette", "2024-04-10", "2024-04", "id-month", 9)
    assert cov.url == "https://gazette.example.org/p/which-tokens-deserve-a-loss"
    assert list(report.by_digest()) == ["Gradient Gazette", "Tensor Tea"]  # in order of first coverage
    data = report.to_json()
    assert data["coverage"]["digest"] == "Gradient Gazette" and data["mentions"]  # added, nothing removed
    assert list(data)[:10] == ["arxiv_id", "found", "title", "authors", "abstract", "published", "abs_url", "pdf_url", "metadata_source", "mentions"]


def test_the_paper_report_counts_from_the_api_date(kb_factory, tmp_path):
    paper = FakePaper("2403.04321", "Sparse Router Collapse in Mixture-of-Experts", ["Ana Diaz"], "Routers collapse; an entropy bonus fixes it.",
                      published="2024-03-07T10:00:00Z")
    with FakeArxiv() as api:
        api.add(paper)
        kb = kb_factory(arxiv=ArxivClient(api.url, cache=ArxivCache(tmp_path / "state.sqlite3"), pacer=Pacer(0)))
        kb.ingest([ARCHIVE / "weekly-paper-roundup", ARCHIVE / "html-posts"])
        report = kb.paper("2403.04321")
    cov = report.coverage
    assert (cov.digest, cov.date, cov.v1_date, cov.v1_basis, cov.days_after_v1) == ("Weekly Paper Roundup", "2024-03-17", "2024-03-07", "api", 10)


def test_no_dated_mention_no_coverage(roundup_kb):
    report = roundup_kb.paper("2401.00007")
    assert report.coverage is None and report.to_json()["coverage"] is None

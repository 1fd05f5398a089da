"""What roundups and the paper card's coverage say, as text (no Discord)."""

from __future__ import annotations

import pytest

from bot.rendering import coverage_line, paper_card_text
from bot.roundups import roundup_embed, roundup_text
from knowledge.models import Coverage, IssueSummary, Paper, PaperReport, Roundup


def report(coverage: Coverage | None) -> PaperReport:
    return PaperReport(arxiv_id="2305.14314", found=True, paper=Paper("2305.14314", title="QLoRA"), mentions=[], coverage=coverage)


@pytest.mark.parametrize(("coverage", "line"), [
    (Coverage("Davis", "Roundup", "2023-05-28", v1_date="2023-05-23", v1_basis="api", days_after_v1=5),
     "First covered: Davis · 2023-05-28 · 5 days after arXiv v1 (API date 2023-05-23)"),
    (Coverage("Davis", "Roundup", "2023-05-28", v1_date="2023-05", v1_basis="id-month", days_after_v1=27),
     "First covered: Davis · 2023-05-28 · at most 27 days after arXiv v1 (ID month 2023-05)"),
    (Coverage("Davis", "Roundup", "2023-05-23", v1_date="2023-05-23", v1_basis="api", days_after_v1=0),
     "First covered: Davis · 2023-05-23 · the day of its arXiv v1 (API date 2023-05-23)"),
    (Coverage("Davis", "Roundup", "2023-05-22", v1_date="2023-05-23", v1_basis="api", days_after_v1=-1),
     "First covered: Davis · 2023-05-22 · 1 day before arXiv v1 (API date 2023-05-23)"),
    (Coverage("Ahead", "Papers", "2023-10", v1_date="2023-10", v1_basis="id-month", days_after_v1=None),
     "First covered: Ahead · 2023-10 (the issue is dated to the month)"),
])
def test_coverage_lines(coverage, line):
    assert coverage_line(report(coverage)) == line
    assert line in paper_card_text(report(coverage))


def test_no_coverage_no_line():
    assert coverage_line(report(None)) == "" and "First covered" not in paper_card_text(report(None))


def test_an_empty_roundup_says_why():
    empty = Roundup("2025-01-01", "2025-01-07", [], [], note="No digest issue is dated between 2025-01-01 and 2025-01-07.")
    assert roundup_text(empty) == "Papers covered, 2025-01-01 to 2025-01-07\n(No digest issue is dated between 2025-01-01 and 2025-01-07.)"
    embed = roundup_embed(empty)
    assert "No digest issue" in embed.description and not embed.fields and embed.footer.text is None
    issue = IssueSummary("Tea", "Tea 1", "2025-01-02", "", "tea.txt", "tea-1")
    no_papers = Roundup("2025-01-01", "2025-01-07", [], [issue])
    assert roundup_text(no_papers).endswith("1 issue from 1 digest, 0 papers: none of their sections names a paper.")
    assert "none of their sections names a paper" in roundup_embed(no_papers).description

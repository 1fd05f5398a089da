"""Weekly roundups over the fixture archive plus three small digests of one week (tests/fixtures/roundup)."""

from __future__ import annotations

from datetime import date

import pytest

from knowledge.models import Roundup
from knowledge.search.roundups import (
    InvalidDate,
    issue_span,
    names_paper,
    parse_day,
    quote_take,
    window,
)
from knowledge.text import split_sentences

WEEK = {"since": "2024-04-05", "until": "2024-04-11"}


def entry(roundup: Roundup, arxiv_id: str):
    return next(p for p in roundup.papers if p.arxiv_id == arxiv_id)


def section_text(kb, doc_id: str, section: str) -> str:
    rows = [c for c in kb.store.get_chunks(where={"doc_id": doc_id}) if c.section == section]
    return " ".join(" ".join(c.text.split()) for c in sorted(rows, key=lambda c: c.order))


def test_a_paper_two_digests_covered_by_id_and_by_title_is_one_entry_with_both_takes_first(roundup_kb):
    roundup = roundup_kb.roundup(**WEEK)
    assert not roundup.fallback and (roundup.since, roundup.until) == ("2024-04-05", "2024-04-11")
    assert [i.digest for i in roundup.issues] == ["Weekend Weights", "Gradient Gazette", "Tensor Tea"]
    rho = entry(roundup, "2404.07965")
    # Gradient Gazette links the ID under the paper's title; Tensor Tea only names the title
    assert rho.title == "Rho-1: Not All Tokens Are What You Need" and rho.key == "arxiv:2404.07965"
    assert rho.digests == ["Gradient Gazette", "Tensor Tea"]
    assert [t.arxiv_ids for t in rho.takes] == [["2404.07965"], []]
    assert "reference model" in rho.takes[0].excerpt and "reference model" in rho.takes[1].excerpt
    # Weekend Weights cites only the ID under a heading that names no paper; the indexed abstract
    # gives the ID's title, which Tensor Tea's section is named after
    video = entry(roundup, "2404.02222")
    assert video.title == "Patchwork Memory for Streaming Video Models" and video.digests == ["Weekend Weights", "Tensor Tea"]
    assert [t.section for t in video.takes] == ["This week's video paper", "Patchwork Memory for Streaming Video Models"]
    # papers two digests covered come first, then single-digest ones newest first
    assert [len(p.digests) for p in roundup.papers] == [2, 2, 1, 1]
    assert [p.title for p in roundup.papers[2:]] == ["Sorting Networks Learn to Count", "Lamplight Decoding for Small Models"]
    # citations carry everything a reader needs
    take = rho.takes[0]
    assert (take.digest, take.date, take.url) == ("Gradient Gazette", "2024-04-10", "https://gazette.example.org/p/which-tokens-deserve-a-loss")
    assert take.title == "Gradient Gazette: which tokens deserve a loss" and take.section == rho.title


def test_intros_footnotes_and_generic_headings_are_not_papers(roundup_kb):
    titles = {p.title for p in roundup_kb.roundup(**WEEK).papers}
    assert not titles & {"Footnotes", "Limitations", "", "arXiv:"}
    assert not any("Tensor Tea, April 11" in t for t in titles)  # the issue's own title is not a paper
    assert names_paper("Rho-1") and names_paper("Llama 3") and names_paper("Sorting Networks Learn to Count")
    assert not names_paper("Limitations") and not names_paper("Footnotes") and not names_paper("Beyond classification")
    assert not names_paper("Weekly issue 9 notes", "Weekly issue 9 notes") and not names_paper("")


@pytest.mark.parametrize("window_args", [WEEK, {"since": "2024-03-16", "until": "2024-03-22"}, {}])
def test_every_sentence_shown_is_quoted_from_its_section(roundup_kb, window_args):
    roundup = roundup_kb.roundup(**window_args)
    takes = [t for p in roundup.papers for t in p.takes]
    assert takes
    for t in takes:
        stored = section_text(roundup_kb, t.doc_id, t.section)
        sentences = split_sentences(t.excerpt.removesuffix(" …"))
        assert 1 <= len(sentences) <= 2, t.excerpt
        for s in sentences:
            assert s in stored, (s, t.section)


def test_the_fixture_archive_week_groups_a_paper_two_digests_linked_by_id(roundup_kb):
    roundup = roundup_kb.roundup(since="2024-03-16", until="2024-03-22")
    first = roundup.papers[0]
    assert first.arxiv_id == "2403.09999" and first.digests == ["Korean Daily", "Paper Vault"]
    assert first.title == "Quiet Gradients: Why Late Training Stalls"
    # a Korean note's take is its Korean commentary, not the quoted English abstract
    korean = next(p for p in roundup.papers if p.title.startswith("Lantern-7B"))
    assert korean.arxiv_id == "2403.05678"  # the title meets the ID through the indexed abstract
    assert any("\uac00" <= ch <= "\ud7a3" for ch in korean.takes[0].excerpt)


def test_an_empty_last_week_falls_back_to_the_newest_week_with_issues(roundup_kb):
    roundup = roundup_kb.roundup()  # today is years after the fixtures
    assert roundup.fallback and (roundup.since, roundup.until) == ("2024-04-05", "2024-04-11")
    assert "newest week with issues" in roundup.note and roundup.papers
    on_time = roundup_kb.roundup_on(date(2024, 4, 14))
    assert not on_time.fallback and (on_time.since, on_time.until) == ("2024-04-08", "2024-04-14") and on_time.note == ""
    assert [i.digest for i in on_time.issues] == ["Weekend Weights", "Gradient Gazette", "Tensor Tea"]
    # a window that was asked for is never replaced
    empty = roundup_kb.roundup(since="2025-01-01", until="2025-01-07")
    assert not empty.fallback and empty.papers == [] and empty.issues == []
    assert empty.note == "No digest issue is dated between 2025-01-01 and 2025-01-07."


def test_one_digest_and_an_unknown_digest(roundup_kb):
    tea = roundup_kb.roundup(**WEEK, digest="tensor tea")
    assert tea.digest == "Tensor Tea" and [i.digest for i in tea.issues] == ["Tensor Tea"]
    assert {d for p in tea.papers for d in p.digests} == {"Tensor Tea"} and len(tea.papers) == 3
    nobody = roundup_kb.roundup(digest="No Such Digest")
    assert nobody.papers == [] and "No digest named “No Such Digest” is indexed" in nobody.note
    assert "Tensor Tea" in nobody.note


def test_roundup_json_contract(roundup_kb):
    data = roundup_kb.roundup(**WEEK).to_json()
    assert list(data) == ["since", "until", "digest", "fallback", "note", "issues", "papers"]
    paper = data["papers"][0]
    assert list(paper) == ["key", "title", "arxiv_id", "digests", "takes"]
    assert {"digest", "title", "date", "section", "url", "excerpt"} <= set(paper["takes"][0])


@pytest.mark.parametrize("bad", ["2024-13-01", "yesterday", "2024-4-1", "2024-02-30", " "])
def test_bad_dates_are_refused_with_a_reason(roundup_kb, bad):
    with pytest.raises(InvalidDate, match="not a date"):
        roundup_kb.roundup(since=bad)


def test_windows_and_issue_dates():
    today = date(2024, 4, 14)
    assert window(None, None, today) == (date(2024, 4, 8), today, False)
    assert window("2024-04-01", None, today) == (date(2024, 4, 1), today, True)
    assert window(None, "2024-04-03", today) == (date(2024, 3, 28), date(2024, 4, 3), True)
    with pytest.raises(InvalidDate, match="after it ends"):
        window("2024-04-10", "2024-04-01", today)
    assert parse_day(" 2024-04-12 ") == date(2024, 4, 12)
    assert issue_span("2023-10") == (date(2023, 10, 1), date(2023, 10, 31))  # a month-dated issue: the whole month
    assert issue_span("") is None and issue_span("2023-13") is None


def test_quoted_takes_prefer_clean_sentences():
    text = "(Ada Park, Bo Kim)\n\nhttps://example.org/paper\n\nThe method trains on fewer tokens and matches the baseline. It also runs faster on every benchmark they tried.\n\n#llm"
    assert quote_take([text]) == "The method trains on fewer tokens and matches the baseline. It also runs faster on every benchmark they tried."
    korean = "We propose a method that trains on fewer tokens and matches the baseline.\n\n적은 토큰으로 학습해도 성능이 유지된다는 점이 흥미롭네요."
    assert quote_take([korean], language="ko") == "적은 토큰으로 학습해도 성능이 유지된다는 점이 흥미롭네요."
    assert quote_take([""]) == ""


def test_a_papers_subsections_in_one_issue_are_one_paper_with_one_take(roundup_kb):
    # "Kestrel 3B" has no ID; its subsections "Kestrel in practice" and "Kestrel's context window" link it
    roundup = roundup_kb.roundup(since="2024-03-25", until="2024-03-31")
    [kestrel] = roundup.papers
    assert (kestrel.title, kestrel.arxiv_id) == ("Kestrel 3B", "2403.17777")
    [take] = kestrel.takes  # one take per issue, from the section named for the paper
    assert take.section == "Kestrel 3B" and take.excerpt.startswith("Kestrel 3B is a small open model")


def test_author_lists_and_cut_sentences_are_not_takes():
    authors = "Ada Park, Bo Kim, Chen Li, Dana Ruiz, Eli Stone, Fay Wong, Gus Hale"
    text = f"{authors}\n\nThe model reads long documents with a rolling window. It keeps a small memory and the results hold up"
    assert quote_take([text]) == "The model reads long documents with a rolling window."

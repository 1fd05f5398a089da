"""Parsing and metadata on the project's own fixtures, in every supported format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.parsing import ParseError, discover, parse_file
from knowledge.parsing.metadata import date_from_filename, find_date, find_month
from tests.conftest import ARCHIVE


def parse(rel: str, **kw):
    path = ARCHIVE / rel
    return parse_file(path, ARCHIVE, **kw)


def test_plaintext_roundup_title_date_digest_and_sections():
    (doc,) = parse("weekly-paper-roundup/2024-3-17-roundup.txt")
    assert doc.title.startswith("2024-3-17 arXiv roundup")
    assert doc.date == "2024-03-17"
    assert doc.digest == "Weekly Paper Roundup"
    assert doc.url == ""
    assert doc.doc_id == "weekly-paper-roundup/2024-3-17-roundup"
    headings = [s.heading for s in doc.sections]
    assert headings[1:] == [
        "PebbleTune: Finetuning Frozen Models with Pebble-Sized Adapters",
        "Sparse Router Collapse in Mixture-of-Experts",
        "Byte-Pair Dropout for Robust Tokenization",
    ]
    assert doc.sections[3].arxiv_ids == ["2403.01234"]
    assert doc.language == "en"


def test_markdown_with_source_line_gets_canonical_url_and_ids():
    (doc,) = parse("model-notes/ahead-notes-march.md")
    assert doc.title == "Model Notes: March 2024"
    assert doc.url == "https://notes.example.org/p/model-notes-march-2024"
    assert doc.doc_id == "url:https://notes.example.org/p/model-notes-march-2024"
    lantern = next(s for s in doc.sections if s.heading.startswith("Lantern-7B"))
    assert lantern.arxiv_ids == ["2403.05678"]  # "arXiv:2403.05678v2" normalised
    assert "source https" not in " ".join(s.text for s in doc.sections)


def test_korean_daily_notes_one_section_per_item():
    (doc,) = parse("korean-daily/2024-03-20.txt")
    assert doc.date == "2024-03-20"
    assert doc.language == "ko"
    assert [s.heading for s in doc.sections] == ["Lantern-7B: A Small Model That Reads Long Documents", "Quiet Gradients"]
    assert doc.sections[1].arxiv_ids == ["2403.09999"]
    assert "#llm" in doc.sections[0].text


def test_vault_note_with_odd_file_name():
    files = [f for f, _ in discover([ARCHIVE / "paper-vault"])]
    assert len(files) == 1 and "$" in files[0].name
    (doc,) = parse_file(files[0], ARCHIVE)
    assert doc.digest == "Paper Vault"  # the year folder is skipped
    assert doc.date == "2024-03-21"
    assert doc.title == "Quiet Gradients: Why Late Training Stalls"
    assert doc.sections[0].heading == doc.title
    assert doc.sections[0].arxiv_ids == ["2403.09999"]
    assert doc.url == "https://arxiv.org/abs/2403.09999"


def test_substack_html_strips_widgets_keeps_captions_and_footnotes():
    (doc,) = parse("html-posts/substack-post.html")
    assert doc.title == "Sparse experts, explained"
    assert doc.date == "2024-03-22"
    assert doc.url == "https://example.substack.com/p/sparse-experts-explained"
    text = "\n".join(s.heading + "\n" + s.text for s in doc.sections)
    assert "Subscribe" not in text and "Share this post" not in text and "Home Archive" not in text
    assert "Load per expert before and after" in text
    assert [s.heading for s in doc.sections][1:] == ["Router collapse", "Why it matters", "Footnotes"]
    assert "Usually two experts per token." in doc.sections[-1].text
    assert doc.sections[1].arxiv_ids == ["2403.04321"]


def test_abstract_datasets_jsonl_csv_and_parquet(tmp_path):
    docs = parse("abstracts/abstracts.jsonl")
    assert [d.doc_id for d in docs] == ["arxiv:2403.05678", "arxiv:2403.01234", "arxiv:2402.07777"]  # invalid row skipped
    assert docs[0].digest == "arXiv" and docs[0].kind == "abstract"
    assert docs[0].title.startswith("Lantern-7B") and docs[1].title == "arXiv:2403.01234"
    (csv_doc,) = parse("abstracts/extra.csv")
    assert csv_doc.doc_id == "arxiv:2401.04444" and csv_doc.title == "Frozen Encoders Are Enough"
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "a.parquet"
    pq.write_table(pa.table({"arxiv_id": ["2312.00001v3"], "abstract": ["Parquet rows are read too."]}), path)
    (pq_doc,) = parse_file(path, tmp_path)
    assert pq_doc.doc_id == "arxiv:2312.00001"


def test_unknown_empty_and_malformed_files_raise_parse_error(tmp_path):
    (tmp_path / "x.pdf").write_bytes(b"%PDF")
    (tmp_path / "empty.txt").write_text("  \n\n")
    (tmp_path / "bad.jsonl").write_text(json.dumps({"id": 1}) + "\n")
    for name in ("x.pdf", "empty.txt", "bad.jsonl"):
        with pytest.raises(ParseError):
            parse_file(tmp_path / name, tmp_path)


def test_control_characters_and_bad_bytes_are_cleaned(tmp_path):
    path = tmp_path / "weird.txt"
    path.write_bytes("Title line\x00 with nul\nA Heading Here\nSome text \x1b[31m with escapes and \xff bad bytes.\n".encode("utf-8", "surrogateescape") + b"\xff\xfe")
    (doc,) = parse_file(path, tmp_path)
    assert "\x00" not in doc.title and all("\x1b" not in s.text for s in doc.sections)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-5-28 arXiv roundup", "2023-05-28"),
        ("2024년 2월 29일", "2024-02-29"),
        ("Posted May 28, 2023", "2023-05-28"),
        ("on 3 Oct 2023 we", "2023-10-03"),
        ("2023-13-45 nonsense", ""),
        ("no date", ""),
    ],
)
def test_find_date(text, expected):
    assert find_date(text) == expected


def test_dates_from_file_names_and_months():
    assert date_from_filename("230926 Zero Bubble") == "2023-09-26"
    assert date_from_filename("2023-10-research-papers") == "2023-10"
    assert find_month("Research Papers (October 2023)") == "2023-10"


def test_discover_skips_hidden_and_sorts(tmp_path: Path):
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "a.txt").write_text("x")
    (tmp_path / "b.txt").write_text("x")
    (tmp_path / "a.txt").write_text("x")
    assert [f.name for f, _ in discover([tmp_path])] == ["a.txt", "b.txt"]

"""Parsing and metadata on the project's own fixtures, in every supported format."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from knowledge.ingest.parsing import ParseError, discover, parse_file
from knowledge.ingest.parsing.metadata import (
    canonical_url,
    date_from_filename,
    find_date,
    find_month,
)
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


# --- plain-text sectioning: headings after short paragraphs, trailing footnotes -------------

PARSING = ARCHIVE.parent / "parsing"


def test_roundup_headings_after_short_paragraphs_and_unmarked_footnote():
    (doc,) = parse_file(PARSING / "quiet-roundup/2024-4-7-roundup.txt", PARSING)
    assert doc.date == "2024-04-07"
    assert [s.heading for s in doc.sections] == [
        "",
        "Critic Distillation for Small Reward Models",
        "Menu Search: Ranking Long Lists with Pairwise Prompts",  # after "Neat trick.", before a shorter line
        "A Practitioner's Map of Tokenizer Choices: Vocabulary Size, Byte Fallback, Merges, & Speed",
        "Gradient Noise Shapes Early Training",
        "Footnotes",  # its marker was lost, but it answers the intro's "so far.1"
    ]
    tokenizers = doc.sections[3]
    assert "and it mostly holds for small models" in tokenizers.text  # a lower-case fragment is no heading
    assert doc.sections[4].arxiv_ids == ["2404.01111"]
    assert "busiest week" not in doc.sections[4].text
    assert doc.sections[5].text.startswith("I counted the new submissions")


def _sections(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    path = tmp_path / "notes" / "post.txt"
    path.parent.mkdir(exist_ok=True)
    path.write_text(text)
    (doc,) = parse_file(path, tmp_path)
    return [(s.heading, s.text) for s in doc.sections]


POST_HEAD = (
    "Weekly Notes 2024-05-01\n"
    "An intro paragraph that makes a claim[1] and a second one[2], both with notes.\n"
    "First Paper With a Long Enough Title\n"
    "Some text about the first paper, long enough to be a real paragraph of prose here.\n"
    "Second Paper With a Long Enough Title\n"
    "Text about the second paper that goes on for a while, longer than its heading is.\n"
)


def test_bracketed_footnote_markers_make_a_footnotes_section(tmp_path):
    sections = _sections(tmp_path, POST_HEAD + "[1] The first note.\n[2] The second note,\nwhich goes on over a second line.\n")
    assert [h for h, _ in sections] == ["", "First Paper With a Long Enough Title", "Second Paper With a Long Enough Title", "Footnotes"]
    assert sections[2][1].startswith("Text about the second paper") and "[1]" not in sections[2][1]
    assert sections[3][1] == "[1] The first note.\n\n[2] The second note,\n\nwhich goes on over a second line."


def test_superscript_and_star_markers(tmp_path):
    head = POST_HEAD.replace("claim[1] and a second one[2]", "claim¹ and a second one²")
    sections = _sections(tmp_path, head + "¹ A superscript note without a full stop\n² Another note.\n")
    assert sections[-1] == ("Footnotes", "¹ A superscript note without a full stop\n\n² Another note.")
    starred = POST_HEAD.replace("claim[1] and a second one[2]", "claim* and a second one")
    sections = _sections(tmp_path, starred + "* A starred note.\n")
    assert sections[-1] == ("Footnotes", "* A starred note.")


def test_numbered_footnotes_need_references_in_the_text(tmp_path):
    glued = POST_HEAD.replace("claim[1] and a second one[2]", "claim.1 Then a second one.2 Both")
    sections = _sections(tmp_path, glued + "1. The first note.\n2. The second note.\n")
    assert sections[-1] == ("Footnotes", "1. The first note.\n\n2. The second note.")
    plain = POST_HEAD.replace("claim[1] and a second one[2]", "claim and a second one")
    sections = _sections(tmp_path, plain + "1. A list item that ends the paper.\n2. Another list item.\n")
    assert sections[-1][0] == "Second Paper With a Long Enough Title"  # a plain list stays with its paper
    assert "• A list item" in sections[-1][1]


def test_notes_heading_starts_the_footnotes(tmp_path):
    sections = _sections(tmp_path, POST_HEAD + "Notes\nA short note.\nAnd one more short note.\n")
    assert sections[-1] == ("Footnotes", "A short note.\n\nAnd one more short note.")
    assert sections[-2][0] == "Second Paper With a Long Enough Title"


def test_no_footnotes_without_markers_or_references(tmp_path):
    plain = POST_HEAD.replace("claim[1] and a second one[2]", "claim and a second one")
    sections = _sections(tmp_path, plain + "A closing thought about the second paper and its results.\n")
    assert [h for h, _ in sections][-1] == "Second Paper With a Long Enough Title"


def test_real_prose_lines_between_sentences_are_not_headings(tmp_path):
    text = (
        "Weekly Notes 2024-05-02\n"
        "Small Models Are Fine for This\n"
        "The first paper trains a small model on a large amount of synthetic data and evaluates it.\n"
        "It works.\n"
        "but only on the easy split of the benchmark\n"
        "Results on the hard split are mixed.\n"
        "Two things stood out to me:\n"
        "They Also Released Code\n"
        "The code is short.\n"
    )
    sections = _sections(tmp_path, text)
    assert [h for h, _ in sections] == ["Small Models Are Fine for This"]  # no sentence ends before "They Also ..."


# --- table dumps ------------------------------------------------------------------------------


def test_dataset_viewer_dump_becomes_abstract_documents():
    docs = parse_file(PARSING / "dataset-viewer/abstracts-viewer-page.txt", PARSING)
    assert [d.doc_id for d in docs] == ["arxiv:2401.01234", "arxiv:2402.05555", "arxiv:2403.07777", "arxiv:2404.00042"]
    assert all(d.kind == "abstract" and d.digest == "arXiv" and len(d.sections) == 1 for d in docs)
    assert docs[1].sections[0].text.startswith("This paper studies why sparse routers collapse")
    assert not docs[0].sections[0].text.endswith("|")


def test_table_dump_that_is_not_abstracts_is_refused():
    with pytest.raises(ParseError, match="looks like a table dump, not a digest post"):
        parse_file(PARSING / "dataset-viewer/model-sizes-table.md", PARSING)


def test_headerless_table_dump_with_many_rows(tmp_path):
    rows = [f"| 2403.{i:05d} | Abstract number {i} says something about small language models. |" for i in range(1, 30)]
    (tmp_path / "dump.md").write_text("\n".join(["| --- | --- |", *rows]))
    docs = parse_file(tmp_path / "dump.md", tmp_path)
    assert len(docs) == 29 and docs[0].doc_id == "arxiv:2403.00001"


def test_no_heading_is_only_punctuation(tmp_path):
    text = "Title of a Post\n|\nA paragraph that follows a lone pipe and is long enough.\n---\nAnother long paragraph after a rule line, also long enough.\n"
    sections = _sections(tmp_path, text)
    assert all(any(c.isalnum() for c in h) or h == "" for h, _ in sections)


# --- digest names -----------------------------------------------------------------------------


def test_digest_guessed_from_folder_is_recorded(tmp_path):
    (doc,) = parse("weekly-paper-roundup/2024-3-17-roundup.txt")
    assert doc.digest == "Weekly Paper Roundup" and doc.extra["digest_guessed"] is True
    (given,) = parse("weekly-paper-roundup/2024-3-17-roundup.txt", digest="My Digest")
    assert given.digest == "My Digest" and "digest_guessed" not in given.extra
    known = tmp_path / "x" / "post.txt"
    known.parent.mkdir()
    known.write_text("A Post\nSome Heading Here\nA paragraph of text, long enough to follow the heading.\nsource https://dblalock.substack.com/p/some-post\n")
    (doc,) = parse_file(known, tmp_path)
    assert doc.digest == "Davis Summarizes Papers" and "digest_guessed" not in doc.extra
    assert all("digest_guessed" not in d.extra for d in parse("abstracts/abstracts.jsonl"))


# --- canonical URLs ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://blog.example.org/?p=2", "https://blog.example.org?p=2"),
        ("http://www.Blog.Example.org/?p=3#comments", "https://blog.example.org?p=3"),
        ("https://blog.example.org/post/?b=2&a=1", "https://blog.example.org/post?a=1&b=2"),
        ("https://x.example/p/issue-7?utm_source=substack&utm_medium=email&utm_campaign=post", "https://x.example/p/issue-7"),
        ("https://x.example/p/a?fbclid=abc&gclid=def&ref=hn&ref_src=twsrc&id=9", "https://x.example/p/a?id=9"),
        ("https://x.example/p/a?UTM_Source=x&source=rss", "https://x.example/p/a?source=rss"),  # generic names stay
        ("https://x.example/search?q=&page=2", "https://x.example/search?page=2&q="),
    ],
)
def test_canonical_url_keeps_the_query_without_tracking(url, expected):
    assert canonical_url(url) == expected


def test_posts_that_differ_by_query_are_different_documents(tmp_path):
    ids = []
    for n in (2, 3):
        path = tmp_path / "blog" / f"post{n}.txt"
        path.parent.mkdir(exist_ok=True)
        path.write_text(f"Post {n}\nSome Heading Here\nA paragraph of text, long enough to follow the heading.\nsource https://blog.example.org/?p={n}&utm_source=rss\n")
        (doc,) = parse_file(path, tmp_path)
        ids.append(doc.doc_id)
    assert ids == ["url:https://blog.example.org?p=2", "url:https://blog.example.org?p=3"]

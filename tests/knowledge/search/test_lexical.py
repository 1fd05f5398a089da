"""Tokenization (English, Korean, mixed), text cleaning, sentences, chunking."""

from __future__ import annotations

from knowledge.ingest.chunking import chunk_document, pack
from knowledge.models import Document, Section
from knowledge.search.lexical import LexicalIndex
from knowledge.search.tokenize import tokenize
from knowledge.text import clean_line, split_sentences


def test_tokenize_keeps_model_names_numbers_and_ids():
    toks = tokenize("What did they say about Rho-1, GPT-4 and 2305.14314?")
    for t in ("rho-1", "rho", "gpt-4", "2305.14314"):
        assert t in toks
    assert "what" not in toks and "say" not in toks


def test_korean_word_found_inside_compound_and_english_inside_korean():
    doc = set(tokenize("소프트맥스 병목 현상을 분석했습니다"))
    assert "병목" in doc
    assert set(tokenize("병목을 다룬 논문")) & doc
    assert "qlora" in tokenize("QLoRA에 대해 뭐라고 했어?")
    assert "대해" not in tokenize("QLoRA에 대해 뭐라고 했어?")
    # a word inside a longer compound: bigrams of the compound
    assert "맥스" in tokenize("소프트맥스")


def test_clean_line_removes_control_characters():
    assert clean_line("a\x00b\u200b c\x1b\n d") == "a b c d"


def test_split_sentences_respects_abbreviations():
    assert split_sentences("We use e.g. LoRA here. Then it works! Really?") == ["We use e.g. LoRA here.", "Then it works!", "Really?"]


def _words(texts):
    return [len(t.split()) for t in texts]


def test_pack_never_exceeds_budget_and_loses_nothing():
    paragraphs = ["short line", "word " * 50, "another " * 300 + "end."]
    chunks = pack(paragraphs, 64, _words)
    assert all(n <= 64 for n in _words(chunks))
    assert sum(_words(chunks)) == sum(_words(paragraphs))


def test_chunk_document_uses_model_tokenizer_and_fits_window(embedder):
    text = " ".join(f"Sentence number {i} talks about adapters and routers." for i in range(200))
    doc = Document("d1", "Digest", "T", "2024-01-01", "", "src", "en", "h", [Section("A heading", text, ["2401.00001"])])
    chunks = chunk_document(doc, embedder.count_tokens, embedder.max_tokens)
    assert len(chunks) > 3
    counts = embedder.count_tokens([f"{c.metadata['section']}\n{c.text}" for c in chunks])
    assert max(counts) <= embedder.max_tokens - 2
    assert " ".join(c.text for c in chunks).split() == text.split()  # nothing truncated
    assert chunks[0].metadata["arxiv_ids"] == "2401.00001"
    assert chunks[0].chunk_id == "d1#0:0"


def test_lexical_index_search_and_persistence(tmp_path):
    idx = LexicalIndex(tmp_path / "lex.sqlite3")
    idx.put_document("a", "h1", [("a#0:0", "QLoRA finetunes in 4 bits", ["2305.14314"]), ("a#1:0", "Router collapse", [])])
    idx.put_document("b", "h2", [("b#0:0", "소프트맥스 병목 현상", [])])
    assert idx.search(tokenize("QLoRA"), 5)[0][0] == "a#0:0"
    assert idx.search(tokenize("병목"), 5)[0][0] == "b#0:0"
    assert idx.chunks_mentioning("2305.14314") == ["a#0:0"]
    idx.close()
    again = LexicalIndex(tmp_path / "lex.sqlite3")
    assert again.known_docs() == {"a": "h1", "b": "h2"}
    # sync drops what the store no longer has and adds what it gained
    again.sync({"a": "h1", "c": "h3"}, lambda ids: {d: [(f"{d}#0:0", "fresh text about pebbles", [])] for d in ids})
    assert again.known_docs() == {"a": "h1", "c": "h3"}
    assert again.search(tokenize("pebbles"), 5)[0][0] == "c#0:0"
    assert again.search(tokenize("병목"), 5) == []


def test_a_short_line_before_a_long_paragraph_is_not_left_alone():
    chunks = pack(["#llm #tags", "(" + "Author Name, " * 120 + ")", "An abstract sentence."], 64, _words)
    assert _words(chunks)[0] > 32 and chunks[0].startswith("#llm #tags")
    assert all(n <= 64 for n in _words(chunks))
    assert sum(_words(chunks)) == 2 + 241 + 3


def test_bm25_weights_are_saved_and_reused_until_the_content_changes(tmp_path, monkeypatch):
    from knowledge.search import bm25

    idx = LexicalIndex(tmp_path / "lex.sqlite3")
    idx.put_document("a", "h1", [("a#0:0", "amber adapters for frozen models", [])])
    assert idx.search(tokenize("amber"), 3)[0][0] == "a#0:0"
    idx.close()

    def no_build(rows):
        raise AssertionError("should have loaded the saved weights")

    monkeypatch.setattr(bm25.BM25Matrix, "build", classmethod(lambda cls, rows: no_build(rows)))
    again = LexicalIndex(tmp_path / "lex.sqlite3")
    assert again.search(tokenize("amber"), 3)[0][0] == "a#0:0"  # loaded, memory-mapped
    monkeypatch.undo()
    again.put_document("b", "h2", [("b#0:0", "amber routers", [])])  # content changed: rebuilt
    assert {cid for cid, _ in again.search(tokenize("amber"), 3)} == {"a#0:0", "b#0:0"}


def test_shared_papers_join_on_id_title_or_short_name():
    from knowledge.models import Citation
    from knowledge.search.answers import shared_papers

    def cite(digest, section, ids=()):
        return Citation(1, digest, "t", "", section, "", "", "x", 1.0, list(ids))

    vault = cite("Vault", "PebbleTune", ["2403.00001"])
    roundup = cite("Roundup", "PebbleTune: Tiny Adapters")
    other = cite("Notes", "Limitations")
    other2 = cite("Roundup", "Limitations")
    groups = shared_papers([vault, roundup, other, other2])
    assert list(groups) == ["PebbleTune"] and groups["PebbleTune"] == [vault, roundup]

"""The same issue ingested from two paths is stored once and cited once."""

from __future__ import annotations

import shutil

from knowledge.ingest.dedupe import DuplicateIndex
from tests.conftest import ARCHIVE

ROUNDUP = ARCHIVE / "weekly-paper-roundup" / "2024-3-17-roundup.txt"
TEXT = " ".join(f"word{i} sentence about adapters and routers number {i}." for i in range(40))


def test_exact_and_near_duplicates_are_found(tmp_path):
    index = DuplicateIndex(tmp_path / "dedupe.sqlite3")
    index.put("a", TEXT)
    assert index.find("b", TEXT) == ("a", True)
    assert index.find("b", "  " + TEXT.upper().replace(".", " !")) == ("a", True)  # case, punctuation, spacing
    near = TEXT.replace("number 7.", "number seven.")
    assert index.find("b", near) == ("a", False)
    assert index.find("a", TEXT) is None  # a document never duplicates itself
    assert index.find("c", "a completely different text " * 10) is None
    index.remove("a")
    assert index.find("b", TEXT) is None
    index.close()


def test_a_copy_in_another_folder_is_stored_once_and_cited_once(kb_factory, tmp_path):
    kb = kb_factory()
    copy_dir = tmp_path / "elsewhere" / "copies"
    copy_dir.mkdir(parents=True)
    shutil.copy(ROUNDUP, copy_dir / "same-issue.txt")
    first = kb.ingest([ROUNDUP])
    second = kb.ingest([copy_dir])
    assert first.added == 1
    assert second.added == 0 and len(second.duplicates) == 1
    assert second.duplicates[0]["exact"] is True
    assert second.duplicates[0]["duplicate_of"].endswith("2024-3-17-roundup.txt")
    answer = kb.ask("what did the digest say about PebbleTune?")
    sources = [c.source for c in answer.citations]
    assert len(sources) == len(set(sources))
    assert not any("same-issue" in s for s in sources)


def test_the_index_is_rebuilt_from_the_store_when_missing(kb_factory, tmp_path):
    kb = kb_factory()
    kb.ingest([ROUNDUP])
    kb.duplicates.remove(next(iter(kb.duplicates.known())))
    assert kb.duplicates.known() == set()
    kb.refresh()
    assert len(kb.duplicates.known()) == 1

"""Embedded-store ownership, stale readers, orphan chunks and private data files.

Real embedded Chroma throughout; the "other process" is a real one (a ``python -c`` that
writes through :class:`ChromaStore` with small random vectors: no model to load).
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from bot import conversation as convo
from bot.chat import handle_line
from bot.cli import main
from knowledge.datadir import secure_data_dir
from knowledge.models import Chunk, Document
from knowledge.process.ownership import OwnerLock, StoreOwned, current_owner
from knowledge.search.store import ChromaStore
from tests.conftest import ARCHIVE

REPO = Path(__file__).resolve().parents[3]
DIM = 8

WRITER = textwrap.dedent(
    """
    import sys
    import numpy as np
    from pathlib import Path
    from knowledge.models import Chunk, Document
    from knowledge.search.store import ChromaStore

    data, first, n = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
    store = ChromaStore(data, "test-model", 8)
    items = []
    for i in range(first, first + n):
        doc = Document(f"d{i}", "D", f"t{i}", "2024-01-01", "", f"s{i}", "en", f"h{i}", [])
        chunk = Chunk(f"d{i}#0:0", f"d{i}", f"text {i}", {"doc_id": f"d{i}", "section": "s"})
        items.append((doc, [chunk], np.random.default_rng(i).random((1, 8), dtype=np.float32)))
    with store.write_lock():
        store.write_documents(items)
    """
)


def write_elsewhere(data: Path, first: int, n: int) -> subprocess.CompletedProcess:
    """Write ``n`` one-chunk documents from another process."""
    return subprocess.run([sys.executable, "-c", WRITER, str(data), str(first), str(n)], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def vector() -> np.ndarray:
    return np.random.default_rng(0).random((1, DIM), dtype=np.float32)


@pytest.mark.parametrize("before", [0, 20], ids=["empty-index", "filled-index"])
def test_a_reader_reopens_after_another_process_writes(tmp_path, before):
    if before:
        assert write_elsewhere(tmp_path, 0, before).returncode == 0
    reader = ChromaStore(tmp_path, "test-model", DIM)
    assert len(reader.query(vector(), 5)) == min(5, before)  # the reader has the store open
    done = write_elsewhere(tmp_path, before, 30)
    assert done.returncode == 0, done.stderr
    reader._count = None  # as after the few seconds its count is cached
    # today: chromadb.errors.InternalError "Error creating hnsw segment reader: Nothing found on disk"
    hits = reader.query(vector(), 5)
    assert len(hits) == 5
    assert len(reader.get_chunks(where={"doc_id": f"d{before + 29}"})) == 1
    assert len(reader.get_records()) == before + 30


def test_a_changed_stamp_reopens_before_the_next_query(tmp_path):
    reader = ChromaStore(tmp_path, "test-model", DIM)
    seen = reader.stamp()
    assert write_elsewhere(tmp_path, 0, 10).returncode == 0
    generation = reader._generation
    assert reader.stamp() != seen and reader._generation == generation + 1
    reader._count = None
    assert len(reader.query(vector(), 3)) == 3


def test_a_writer_is_refused_while_another_process_owns_the_store(tmp_path):
    owner_script = textwrap.dedent(
        """
        import sys
        from knowledge.process.ownership import OwnerLock
        lock = OwnerLock(sys.argv[1], "digestbot chat")
        print("owned", flush=True)
        sys.stdin.read()
        """
    )
    owner = subprocess.Popen([sys.executable, "-c", owner_script, str(tmp_path)], cwd=REPO, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert owner.stdout.readline().strip() == "owned"
        found = current_owner(tmp_path)
        assert found is not None and found.pid == owner.pid and found.role == "digestbot chat"
        done = write_elsewhere(tmp_path, 0, 3)
        assert done.returncode == 1
        assert f"digestbot chat (pid {owner.pid}) owns the embedded chroma at {tmp_path / 'chroma'}" in done.stderr
        assert "embedded Chroma serves one process at a time" in done.stderr and "CHROMA_HOST" in done.stderr
        with pytest.raises(StoreOwned, match=f"pid {owner.pid}"):
            OwnerLock(tmp_path, "digestbot run")
    finally:
        owner.stdin.close()
        owner.wait(30)
    # the owner is gone (the kernel dropped its lock): writers and owners are welcome again
    assert current_owner(tmp_path) is None
    assert write_elsewhere(tmp_path, 0, 3).returncode == 0
    lock = OwnerLock(tmp_path, "digestbot run")
    assert current_owner(tmp_path) is None  # this very process owns it
    lock.release()


def test_stats_count_only_chunks_of_complete_documents(kb_factory, monkeypatch, capsys):
    kb = kb_factory()
    report = kb.ingest([ARCHIVE / "weekly-paper-roundup"])
    complete = kb.stats().chunks
    assert complete == report.chunks_embedded and kb.stats().orphan_chunks == 0
    # an interrupted ingest: chunks written, the document's record never was
    doc = Document("orphan/1", "Orphans", "Never finished", "2024-01-01", "", "orphan.md", "en", "h", [])
    chunks = [Chunk(f"orphan/1#0:{n}", "orphan/1", f"half written {n}", {"doc_id": "orphan/1", "section": "s"}) for n in range(3)]
    kb.store.write_document(doc, chunks, np.zeros((3, kb.embedder.dimension), dtype=np.float32) + 0.1)
    kb.store._docs.delete(ids=["orphan/1"])
    kb.store._count = None
    kb.refresh()
    stats = kb.stats()
    assert stats.chunks == complete and stats.orphan_chunks == 3 and stats.documents == report.added
    assert stats.to_json()["orphan_chunks"] == 3
    # and `digestbot stats` says so, beside the store's single-process note
    monkeypatch.setenv("DIGESTBOT_DATA_DIR", str(kb.settings.data_dir))
    monkeypatch.delenv("CHROMA_HOST", raising=False)
    assert main(["stats"]) == 0
    out = capsys.readouterr().out
    assert f"chunks:    {complete}\n" in out and "orphans:   3 chunks of an interrupted ingest" in out
    assert "embedded Chroma serves one process at a time" in out


def test_chat_ingests_with_a_command(kb_factory, tmp_path):
    kb = kb_factory()
    state = convo.Conversation()
    out = handle_line(kb, state, f"/ingest {ARCHIVE / 'weekly-paper-roundup'} {tmp_path / 'nowhere'}")
    assert "added" in out and "chunks embedded" in out and "nowhere: no such file or folder" in out
    assert kb.stats().documents > 0
    assert "Usage: /ingest" in handle_line(kb, state, "/ingest")


def test_the_empty_index_hint_prints_commands_that_work_as_typed():
    for hint in (convo.empty_index_hint(), convo.empty_index_hint(in_chat=True)):
        commands = [line.strip() for line in hint.splitlines() if line.startswith("  ")]
        assert commands and all(c.startswith((".venv/bin/digestbot ", "/ingest ")) for c in commands)
    assert "/ingest ../shared/archive" in convo.empty_index_hint(in_chat=True)


def test_the_data_directory_is_made_private(tmp_path):
    data = tmp_path / "data"
    (data / "chroma").mkdir(parents=True)
    for d in (data, data / "chroma"):
        d.chmod(0o755)
    (data / "state.sqlite3").write_text("x")
    (data / "state.sqlite3").chmod(0o644)
    secure_data_dir(data)
    assert stat.S_IMODE(os.stat(data).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data / "chroma").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(data / "state.sqlite3").st_mode) == 0o600

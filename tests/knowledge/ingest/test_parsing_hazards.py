"""Local ingest hazards: special files that would block, and oversized abstract datasets."""

from __future__ import annotations

import io
import json
import logging
import os
import threading
from pathlib import Path

import pytest

from knowledge.ingest.parsing import ParseError, abstracts, discover, documents, parse_file
from knowledge.ingest.parsing.files import bounded_lines

needs_fifo = pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX FIFOs")


def _parse_in_thread(path: Path, root: Path) -> BaseException | list:
    """Parse in a thread so a regression (blocking on a FIFO) fails the test instead of hanging it."""
    result: list = []

    def run() -> None:
        try:
            result.append(parse_file(path, root))
        except BaseException as exc:  # noqa: BLE001 - handed back to the test
            result.append(exc)

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(timeout=10)
    assert result, f"parse_file blocked on {path.name}"
    return result[0]


@needs_fifo
@pytest.mark.parametrize("name", ["pipe.txt", "pipe.jsonl", "pipe.csv", "pipe.md"])
def test_fifo_is_refused_without_blocking(tmp_path, name):
    os.mkfifo(tmp_path / name)
    outcome = _parse_in_thread(tmp_path / name, tmp_path)
    assert isinstance(outcome, ParseError) and "not a regular file" in str(outcome)
    assert "FIFO" in str(outcome)


@needs_fifo
def test_symlink_to_fifo_or_device_is_refused(tmp_path):
    os.mkfifo(tmp_path / "pipe")
    (tmp_path / "link.txt").symlink_to(tmp_path / "pipe")
    if Path("/dev/zero").exists():
        (tmp_path / "zero.jsonl").symlink_to("/dev/zero")
    for f, root in discover([tmp_path]):
        if f.suffix:
            outcome = _parse_in_thread(f, root)
            assert isinstance(outcome, ParseError) and "not a regular file" in str(outcome), f.name


def test_abstract_datasets_have_their_own_size_cap(tmp_path, monkeypatch):
    path = tmp_path / "big.jsonl"
    path.write_text(json.dumps({"arxiv_id": "2403.05678", "abstract": "A small abstract about small models."}) + "\n")
    assert len(parse_file(path, tmp_path)) == 1
    monkeypatch.setattr(documents, "MAX_ABSTRACT_FILE_BYTES", 20)
    with pytest.raises(ParseError, match="too large"):
        parse_file(path, tmp_path)
    monkeypatch.setattr(documents, "MAX_FILE_BYTES", 20)
    (tmp_path / "post.txt").write_text("A title\nA heading here\nSome paragraph that is long enough.\n")
    with pytest.raises(ParseError, match="too large"):
        parse_file(tmp_path / "post.txt", tmp_path)


def test_overlong_jsonl_lines_are_skipped_and_counted(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(abstracts, "MAX_LINE_BYTES", 200)
    good = [json.dumps({"arxiv_id": f"2403.0000{i}", "abstract": f"Abstract {i} about quiet gradients."}) for i in (1, 2)]
    huge = json.dumps({"arxiv_id": "2403.09999", "abstract": "x" * 5000})
    path = tmp_path / "mixed.jsonl"
    path.write_text("\n".join([good[0], huge, good[1], "y" * 3000]))  # the last long line has no newline
    with caplog.at_level(logging.WARNING, logger="knowledge.ingest.parsing.abstracts"):
        docs = parse_file(path, tmp_path)
    assert [d.doc_id for d in docs] == ["arxiv:2403.00001", "arxiv:2403.00002"]
    assert any("mixed.jsonl:2: skipped a line longer than 200 bytes" in r.getMessage() for r in caplog.records)
    assert any("skipped 2 line(s) longer than 200 bytes" in r.getMessage() for r in caplog.records)


def test_overlong_csv_lines_are_skipped(tmp_path, monkeypatch):
    monkeypatch.setattr(abstracts, "MAX_LINE_BYTES", 200)
    path = tmp_path / "rows.csv"
    path.write_text("arxiv_id,abstract\n2403.00001,A short abstract.\n2403.00002," + "z" * 1000 + "\n2403.00003,Another short one.\n")
    assert [d.doc_id for d in parse_file(path, tmp_path)] == ["arxiv:2403.00001", "arxiv:2403.00003"]


def test_bounded_lines_never_reads_a_long_line_whole():
    class Recording(io.BytesIO):
        def __init__(self, data: bytes) -> None:
            super().__init__(data)
            self.biggest = 0

        def readline(self, size: int | None = -1) -> bytes:
            piece = super().readline(size)
            self.biggest = max(self.biggest, len(piece))
            return piece

    fh = Recording(b"short\n" + b"a" * 500_000 + b"\nlast")
    assert list(bounded_lines(fh, 100)) == [(1, b"short\n"), (2, None), (3, b"last")]
    assert fh.biggest <= 1 << 16

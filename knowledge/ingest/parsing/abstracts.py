"""arXiv abstract datasets: .jsonl, .csv or .parquet rows with ``arxiv_id`` and ``abstract``."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from knowledge.ingest.parsing.files import bounded_lines, open_regular

log = logging.getLogger(__name__)

ABSTRACT_SUFFIXES = (".jsonl", ".csv", ".parquet")
# Longest .jsonl/.csv line read; a longer one is skipped (read past in bounded pieces).
MAX_LINE_BYTES = 1_000_000


class AbstractFormatError(ValueError):
    """The file is not an abstract dataset (missing ``arxiv_id``/``abstract`` columns)."""


def iter_rows(path: Path) -> Iterator[dict]:
    """Yield the rows of an abstract dataset as dicts.

    Raises:
        AbstractFormatError: The file lacks the required columns.
    """
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        yield from _jsonl(path)
    elif suffix == ".csv":
        yield from _csv(path)
    elif suffix == ".parquet":
        import pyarrow.parquet as pq

        table = pq.read_table(path)
        _check_columns(path, table.column_names)
        yield from table.to_pylist()
    else:
        raise AbstractFormatError(f"{path.name}: not an abstract dataset (.jsonl, .csv, .parquet)")


def _check_columns(path: Path, columns: list[str]) -> None:
    missing = {"arxiv_id", "abstract"} - set(columns)
    if missing:
        raise AbstractFormatError(f"{path.name}: missing column(s) {', '.join(sorted(missing))}")


def _text_lines(path: Path, skipped: list[int]) -> Iterator[tuple[int, str]]:
    """Decoded lines of a regular file, at most :data:`MAX_LINE_BYTES` each.

    The numbers of overlong (skipped) lines are appended to ``skipped``.
    """
    with open_regular(path) as fh:
        for lineno, raw in bounded_lines(fh, MAX_LINE_BYTES):
            if raw is None:
                skipped.append(lineno)
                log.warning("%s:%d: skipped a line longer than %d bytes", path, lineno, MAX_LINE_BYTES)
                continue
            yield lineno, raw.decode("utf-8", errors="replace")


def _report_skipped(path: Path, skipped: list[int]) -> None:
    if skipped:
        log.warning("%s: skipped %d line(s) longer than %d bytes", path, len(skipped), MAX_LINE_BYTES)


def _csv(path: Path) -> Iterator[dict]:
    skipped: list[int] = []
    lines: Iterable[str] = (text for _, text in _text_lines(path, skipped))
    reader = csv.DictReader(lines)
    try:
        _check_columns(path, reader.fieldnames or [])
        yield from reader
    except csv.Error as exc:
        raise AbstractFormatError(f"{path.name}: line {reader.line_num}: {exc}") from exc
    finally:
        _report_skipped(path, skipped)


def _jsonl(path: Path) -> Iterator[dict]:
    skipped: list[int] = []
    first_row = True
    try:
        for lineno, text in _text_lines(path, skipped):
            line = text.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                log.warning("%s:%d: skipped a line that is not JSON (%s)", path, lineno, exc.msg)
                continue
            if not isinstance(row, dict) or "arxiv_id" not in row or "abstract" not in row:
                if first_row:
                    raise AbstractFormatError(f"{path.name}: rows need 'arxiv_id' and 'abstract'")
                log.warning("%s:%d: skipped a row without arxiv_id/abstract", path, lineno)
                continue
            first_row = False
            yield row
    finally:
        _report_skipped(path, skipped)

"""arXiv abstract datasets: .jsonl, .csv or .parquet rows with ``arxiv_id`` and ``abstract``."""

from __future__ import annotations

import csv
import json
import logging
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger(__name__)

ABSTRACT_SUFFIXES = (".jsonl", ".csv", ".parquet")


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
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            reader = csv.DictReader(fh)
            _check_columns(path, reader.fieldnames or [])
            yield from reader
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


def _jsonl(path: Path) -> Iterator[dict]:
    with path.open(encoding="utf-8", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            line = line.strip()
            if not line:
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                log.warning("%s:%d: skipped a line that is not JSON (%s)", path, lineno, exc.msg)
                continue
            if not isinstance(row, dict) or "arxiv_id" not in row or "abstract" not in row:
                if lineno == 1:
                    raise AbstractFormatError(f"{path.name}: rows need 'arxiv_id' and 'abstract'")
                log.warning("%s:%d: skipped a row without arxiv_id/abstract", path, lineno)
                continue
            yield row
